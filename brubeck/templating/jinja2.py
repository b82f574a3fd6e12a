"""Jinja2 adapter: loader, render, and the `Jinja2Rendering` mixin. Imports only jinja2."""

from __future__ import annotations

import functools
from collections import ChainMap
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


def template_render(template: jinja2.Template) -> Callable[[dict[str, Any]], str]:
    """`template.render`, as one call taking the context dict, minus a cost of its own.

    `Template.render` copies the globals into each render's context through their
    `ChainMap`, one Python-level lookup per global: a quarter of the instructions
    of a small page's render (bench/apps/templates/page.html). Here the ChainMap's
    dicts are copied whole instead: the same values (the template's own globals
    over the Environment's, read at each render), then the context is built,
    rendered and its errors rewritten as `render` does. Anything else keeps
    `template.render`: an async Environment, globals that are not a ChainMap of
    dicts, or a Jinja2 without the pieces `Template.render` uses and this calls
    (`root_render_func`, `concat`, `handle_exception`; as of Jinja2 3.1).
    """
    env, layers = template.environment, template.globals
    root = getattr(template, "root_render_func", None)
    concat = getattr(env, "concat", None)
    if env.is_async or root is None or concat is None \
            or not callable(getattr(env, "handle_exception", None)) \
            or type(layers) is not ChainMap \
            or any(type(layer) is not dict for layer in layers.maps):
        return template.render
    maps, new_context = layers.maps, template.new_context

    def render_template(context: dict[str, Any]) -> str:
        values: dict[str, Any] = {}
        for layer in reversed(maps):
            values.update(layer)
        values.update(context)
        ctx = new_context(values, shared=True)  # shared: `values` is the context's own
        try:
            page: str = concat(root(ctx))
            return page
        except Exception:
            env.handle_exception()  # raises it again, its traceback in the template

    return render_template


def renderer(env: jinja2.Environment) -> Callable[[str, dict[str, Any]], str]:
    """`render` for one Environment, its compiled templates kept in a plain dict when
    it never re-checks their files (`auto_reload` off, `load_jinja2_env`'s default)
    and keeps a cache: Jinja2's `get_template` takes a lock, a weak reference and an
    LRU move, 1.2 µs a call, a tenth of a small page's render."""
    if env.auto_reload or env.cache is None:
        return functools.partial(render, env)
    compiled: dict[str, Callable[[dict[str, Any]], str]] = {}

    def render_compiled(name: str, context: dict[str, Any]) -> str:
        render_one = compiled.get(name)
        if render_one is None:
            render_one = template_render(_template(env, name))
            if len(compiled) < _COMPILED_NAMES:
                compiled[name] = render_one
        return render_one(context)

    return render_compiled


class Jinja2Rendering(TemplateRendering, mixin=True):
    """Render handler responses and error pages (`errors.html`) with Jinja2."""
