"""Tornado templates adapter: loader, render, and the `TornadoRendering` mixin.

Imports only `tornado.template` (no IOLoop is started or needed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import TemplateNotFound, TemplateRendering, missing_engine

try:
    from tornado.template import Loader
except ImportError as error:
    raise missing_engine("tornado", "tornado") from error


def load_tornado_env(template_dir: str, **options: Any) -> Callable[[], Loader]:
    """A `template_loader` building a Tornado template Loader over `template_dir`.

    Tornado escapes `{{ value }}` by default (`autoescape="xhtml_escape"`) and its
    Loader compiles each template once; `options` go to `Loader`.
    """
    def loader() -> Loader:
        return Loader(template_dir, **options)

    return loader


def render(env: Loader, name: str, context: dict[str, Any]) -> str:
    """Render through the Loader's cache of compiled templates."""
    try:
        template = env.load(name)
    except FileNotFoundError as error:
        raise TemplateNotFound(name) from error
    return template.generate(**context).decode("utf-8")


class TornadoRendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Tornado templates."""
