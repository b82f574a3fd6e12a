"""Jinja2 adapter: loader, render, and the `Jinja2Rendering` mixin. Imports only jinja2."""

from __future__ import annotations

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


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render through the Environment's cache of compiled templates."""
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound as error:
        raise TemplateNotFound(name) from error
    return template.render(context)


class Jinja2Rendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Jinja2."""
