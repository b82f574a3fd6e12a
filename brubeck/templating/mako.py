"""Mako adapter: loader, render, and the `MakoRendering` mixin. Imports only mako."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import TemplateNotFound, TemplateRendering, missing_engine

try:
    from mako.exceptions import TemplateLookupException
    from mako.lookup import TemplateLookup
except ImportError as error:
    raise missing_engine("mako", "mako") from error


def load_mako_env(template_dir: str, **options: Any) -> Callable[[], TemplateLookup]:
    """A `template_loader` building a Mako TemplateLookup over `template_dir`.

    `${value}` is HTML-escaped (`default_filters=['h']`; Mako's own default does
    not escape; write `${value | n}` for raw output) and compiled templates are
    kept without re-checking the disk per request (`filesystem_checks=False`);
    any `options` override these TemplateLookup arguments.
    """
    settings: dict[str, Any] = {
        "default_filters": ["h"],
        "filesystem_checks": False,
        "input_encoding": "utf-8",
        **options,
    }

    def loader() -> TemplateLookup:
        return TemplateLookup(directories=[template_dir], **settings)

    return loader


def render(env: TemplateLookup, name: str, context: dict[str, Any]) -> str:
    """Render through the lookup's cache of compiled templates."""
    try:
        template = env.get_template(name)
    except TemplateLookupException as error:  # absent, or a uri that leaves the root
        raise TemplateNotFound(name) from error
    text: str = template.render_unicode(**context)
    return text


class MakoRendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Mako."""
