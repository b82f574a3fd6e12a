"""Template engines as rendering mixins: Jinja2, Mako, Tornado and Mustache (pystache).

    from brubeck.templating import Jinja2Rendering, load_jinja2_env

    class DemoHandler(WebMessageHandler, Jinja2Rendering):
        def get(self):
            return self.render_template('success.html', name='J2 D2')

    app = Brubeck(template_loader=load_jinja2_env('./templates/jinja2'), ...)

This package imports no engine. Each adapter module (`brubeck.templating.mako`,
...) imports only its own engine, and is loaded the first time one of its
names is asked for here. `render` finds the adapter from the environment's
type, so a user's `template_loader` may return a raw engine object too;
`renderer` binds it to one environment, as an application keeps it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .base import EngineMissing, TemplateNotFound, TemplateRendering

#: Engine package (top-level module name of its environment types) -> adapter module.
ENGINES: dict[str, str] = {
    "jinja2": "brubeck.templating.jinja2",
    "mako": "brubeck.templating.mako",
    "tornado": "brubeck.templating.tornado",
    "pystache": "brubeck.templating.pystache",
}

#: Public names served lazily from the adapters.
_EXPORTS: dict[str, str] = {
    "Jinja2Rendering": "jinja2",
    "load_jinja2_env": "jinja2",
    "MakoRendering": "mako",
    "load_mako_env": "mako",
    "TornadoRendering": "tornado",
    "load_tornado_env": "tornado",
    "MustacheRendering": "pystache",
    "load_mustache_env": "pystache",
}

__all__ = ["ENGINES", "EngineMissing", "Renderer", "TemplateNotFound", "TemplateRendering",
           "render", "renderer", *_EXPORTS]

#: Renders a template by name with a context: `renderer(env)`.
Renderer = Callable[[str, dict[str, Any]], str]

_adapters: dict[type, ModuleType] = {}


def __getattr__(name: str) -> Any:
    engine = _EXPORTS.get(name)
    if engine is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(ENGINES[engine]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def adapter_for(env: Any) -> ModuleType:
    """The adapter module for an environment, by the engine package its type comes from."""
    kind = type(env)
    adapter = _adapters.get(kind)
    if adapter is None:
        for cls in kind.__mro__:
            engine = cls.__module__.partition(".")[0]
            if engine in ENGINES:
                adapter = importlib.import_module(ENGINES[engine])
                break
        else:
            raise TypeError(
                f"no template adapter for {kind.__module__}.{kind.__qualname__}; "
                f"template_loader must return an environment of one of {sorted(ENGINES)}"
            )
        _adapters[kind] = adapter
    return adapter


def render(env: Any, name: str, context: dict[str, Any]) -> str:
    """Render template `name` from `env` with `context`; raises TemplateNotFound."""
    text: str = adapter_for(env).render(env, name, context)
    return text


def renderer(env: Any) -> Renderer:
    """`render` bound to `env`: one call per page into its adapter, which may keep the
    environment's compiled templates at hand (the Jinja2 adapter does)."""
    adapter = adapter_for(env)
    bind = getattr(adapter, "renderer", None)
    if bind is not None:
        bound: Renderer = bind(env)
        return bound
    return functools.partial(adapter.render, env)
