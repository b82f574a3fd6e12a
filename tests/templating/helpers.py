"""The four template engines as test data, and the page they all render."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from brubeck import Brubeck
from brubeck.templating import (
    Jinja2Rendering,
    MakoRendering,
    MustacheRendering,
    TornadoRendering,
    load_jinja2_env,
    load_mako_env,
    load_mustache_env,
    load_tornado_env,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: The context of the shared page: a title, an escaped value, a list for the loop.
CONTEXT = {"title": "Fruit", "name": "<b>Tom & Jerry</b>", "items": ["apple", "banana", "cherry"]}

#: What every engine must produce from CONTEXT, whitespace between tags aside.
EXPECTED_PAGE = (
    "<!doctype html><html><head><title>Fruit</title></head><body>"
    "<h1>Hello, &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</h1>"
    "<ul><li>apple</li><li>banana</li><li>cherry</li></ul>"
    '<p class="partial">Rendered for &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>'
    "</body></html>"
)


@dataclass(frozen=True)
class Engine:
    name: str
    mixin: type
    load_env: object
    page: str  # the shared page's template name
    ext: str  # template file extension

    @property
    def directory(self) -> Path:
        return TEMPLATES / self.name

    def loader(self, directory: Path | None = None):
        return self.load_env(str(directory or self.directory))


ENGINES = [
    Engine("jinja2", Jinja2Rendering, load_jinja2_env, "page.html", "html"),
    Engine("mako", MakoRendering, load_mako_env, "page.html", "html"),
    Engine("tornado", TornadoRendering, load_tornado_env, "page.html", "html"),
    Engine("mustache", MustacheRendering, load_mustache_env, "page", "mustache"),
]


def normalize(html: str) -> str:
    """Drop whitespace between tags and collapse the rest: engines differ only there."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def page_handler(engine: Engine, *bases: type) -> type:
    """A handler rendering the shared page, built on `bases` (default: the mixin alone)."""

    class PageHandler(*(bases or (engine.mixin,))):
        def get(self):
            return self.render_template(engine.page, **CONTEXT)

    return PageHandler


def make_app(engine: Engine, routes, directory: Path | None = None, **config) -> Brubeck:
    config.setdefault("template_loader", engine.loader(directory))
    return Brubeck(handler_tuples=routes, **config)

