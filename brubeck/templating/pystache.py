"""Mustache adapter (pystache): loader, render, and the `MustacheRendering` mixin.

Imports only pystache. Mustache has no inheritance: a layout is a pair of
partials (`{{> header}}` ... `{{> footer}}`). Template names may be given
with or without the `.mustache` extension ('success' as in 0.4, or
'success.mustache').
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from .base import TemplateNotFound, TemplateRendering, missing_engine

try:
    import pystache
    from pystache.common import TemplateNotFoundError
    from pystache.parsed import ParsedTemplate
except ImportError as error:
    raise missing_engine("pystache", "pystache") from error


@lru_cache(maxsize=1024)
def parse(source: str, delimiters: tuple[str, str] | None = None) -> ParsedTemplate:
    """Parse a template source once; pystache itself reparses on every render."""
    return pystache.parse(source, delimiters)


def _render_parsed(engine: Any, source: str, stack: Any,
                   delimiters: tuple[str, str] | None = None) -> str:
    text: str = parse(source, delimiters).render(engine, stack)
    return text


class _Sources:
    """Template sources by name, each file read once; also serves `{{> partials}}`."""

    def __init__(self, renderer: pystache.Renderer) -> None:
        self._renderer = renderer
        self._texts: dict[str, str] = {}

    def load(self, name: str) -> str:
        text = self._texts.get(name)
        if text is None:
            text = self._renderer.load_template(name)
            self._texts[name] = text
        return text

    def get(self, name: str) -> str | None:
        """pystache's partials protocol: None when there is no such partial."""
        try:
            return self.load(name)
        except TemplateNotFoundError:
            return None


class CachingRenderer(pystache.Renderer):
    """A pystache Renderer that reads each template once and parses each source once."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._sources = _Sources(self)
        if options.get("partials") is None:
            self.partials = self._sources

    def render_name(self, template_name: str, *context: Any, **kwargs: Any) -> str:
        text: str = self.render(self._sources.load(template_name), *context, **kwargs)
        return text

    def _make_render_engine(self) -> Any:
        engine = super()._make_render_engine()
        engine.render = partial(_render_parsed, engine)  # partials go through it too
        return engine


def load_mustache_env(template_dir: str, **options: Any) -> Callable[[], pystache.Renderer]:
    """A `template_loader` building a caching pystache Renderer over `template_dir`.

    pystache escapes `{{value}}` by default (`{{{value}}}` is raw); `options` go
    to `pystache.Renderer`.
    """
    settings: dict[str, Any] = {"search_dirs": [template_dir], "file_encoding": "utf-8",
                                "string_encoding": "utf-8", **options}

    def loader() -> pystache.Renderer:
        return CachingRenderer(**settings)

    return loader


def render(env: pystache.Renderer, name: str, context: dict[str, Any]) -> str:
    """Render template `name` (extension optional) from the renderer's directories."""
    suffix = f".{env.file_extension}" if env.file_extension else ""
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    try:
        text: str = env.render_name(name, context)
        return text
    except TemplateNotFoundError as error:
        raise TemplateNotFound(name) from error


class MustacheRendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (the `errors` template) with pystache."""

    error_template = "errors"
