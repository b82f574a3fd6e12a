"""Jinja2 adapter: loader, render, and the `Jinja2Rendering` mixin. Imports only jinja2."""

from __future__ import annotations

import functools
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


_COMPILED_NAMES = 400  # templates kept per environment, as Jinja2's default cache


def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as error:
        raise TemplateNotFound(name) from error


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render through the Environment's own cache of compiled templates."""
    return _template(env, name).render(context)


def renderer(env: jinja2.Environment) -> Callable[[str, dict[str, Any]], str]:
    """`render` for one Environment, its compiled templates kept in a plain dict when
    it never re-checks their files (`auto_reload` off, `load_jinja2_env`'s default)
    and keeps a cache: Jinja2's `get_template` takes a lock, a weak reference and an
    LRU move, 1.2 µs a call, a tenth of a small page's render."""
    if env.auto_reload or env.cache is None:
        return functools.partial(render, env)
    compiled: dict[str, jinja2.Template] = {}

    def render_compiled(name: str, context: dict[str, Any]) -> str:
        template = compiled.get(name)
        if template is None:
            template = _template(env, name)
            if len(compiled) < _COMPILED_NAMES:
                compiled[name] = template
        return template.render(context)

    return render_compiled


class Jinja2Rendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Jinja2."""
