"""Tornado templates adapter: loader, render, and the `TornadoRendering` mixin.

Imports only `tornado.template` (no IOLoop is started or needed).

Tornado's `Loader` joins any name to its root, so `/etc/passwd` or
`../../secret` would render a file from anywhere. Here a name must resolve,
symbolic links followed, to a file under the root: top-level names, includes
and extends alike; anything else is `TemplateNotFound`, as in the other engines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .base import TemplateNotFound, TemplateRendering, missing_engine

try:
    from tornado.template import Loader, Template
except ImportError as error:
    raise missing_engine("tornado", "tornado") from error


def _check_inside(root: str, name: str) -> None:
    """TemplateNotFound unless `name` is relative and resolves to a path under `root`."""
    if not name or "\0" in name or os.path.isabs(name):
        raise TemplateNotFound(name)
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, name))
    if not real.startswith(real_root + os.sep):
        raise TemplateNotFound(name)


class RootedLoader(Loader):
    """A Tornado `Loader` that reads only files under its root (checked once per name:
    the Loader caches each compiled template)."""

    def _create_template(self, name: str) -> Template:
        _check_inside(self.root, name)
        return super()._create_template(name)


def load_tornado_env(template_dir: str, **options: Any) -> Callable[[], Loader]:
    """A `template_loader` building a Tornado template Loader over `template_dir`.

    Tornado escapes `{{ value }}` by default (`autoescape="xhtml_escape"`) and its
    Loader compiles each template once; `options` go to `Loader`. Names that
    leave `template_dir` are not found.
    """
    def loader() -> Loader:
        return RootedLoader(template_dir, **options)

    return loader


def render(env: Loader, name: str, context: dict[str, Any]) -> str:
    """Render through the Loader's cache of compiled templates."""
    root = getattr(env, "root", None)
    if root is not None and not isinstance(env, RootedLoader):
        _check_inside(root, name)  # a user's own Loader: its includes are theirs
    try:
        template = env.load(name)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        raise TemplateNotFound(name) from error
    return template.generate(**context).decode("utf-8")


class TornadoRendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Tornado templates."""
