"""Jinja2 adapter: loader, render, and the `Jinja2Rendering` mixin. Imports only jinja2."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from .base import TemplateNotFound, TemplateRendering, missing_engine

try:
    import jinja2
except ImportError as error:
    raise missing_engine("jinja2", "jinja2") from error


def load_jinja2_env(template_dir: str, **options: Any) -> Callable[[], jinja2.Environment]:
    """A `template_loader` building a Jinja2 Environment over `template_dir`.

    Autoescape is on for every template but `.txt` ones (Jinja2's own default is
    off), and templates are not re-checked on disk per request
    (`auto_reload=False`); any `options` override these Environment arguments.
    """
    settings: dict[str, Any] = {
        "autoescape": jinja2.select_autoescape(disabled_extensions=("txt",),
                                               default_for_string=True, default=True),
        "auto_reload": False,
        **options,
    }

    def loader() -> jinja2.Environment:
        return jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir), **settings)

    return loader


#: Compiled templates of environments that never re-check their files (`auto_reload`
#: off, `load_jinja2_env`'s default) and keep a cache: Jinja2's `get_template` takes a
#: lock, a weak reference and an LRU move, 1.2 µs a call, a tenth of a small page's
#: render. Bounded by name as Jinja2's default cache is; keyed weakly, since an
#: overlay Environment copies its parent's attributes and may render differently.
_COMPILED: weakref.WeakKeyDictionary[jinja2.Environment, dict[str, jinja2.Template]] = \
    weakref.WeakKeyDictionary()
_COMPILED_NAMES = 400


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render through the Environment's cache of compiled templates."""
    compiled = _COMPILED.get(env)
    template = None if compiled is None else compiled.get(name)
    if template is None:
        try:
            template = env.get_template(name)
        except jinja2.TemplateNotFound as error:
            raise TemplateNotFound(name) from error
        if not env.auto_reload and env.cache is not None:
            compiled = _COMPILED.setdefault(env, {})
            if len(compiled) < _COMPILED_NAMES:
                compiled[name] = template
    return template.render(context)


class Jinja2Rendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Jinja2."""
