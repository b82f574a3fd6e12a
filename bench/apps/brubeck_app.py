"""Brubeck under test: hello as a class and as a function route, JSON, a Jinja2 page,
and that page rendered by hand with `Template.render` but answered with hello's body
(Jinja2's own render in a server, apart from serving a bigger body; `/render-time`
tells the CPU time of a sample of those renders, timed around Jinja2's call).

Served by `python -m brubeck serve bench/apps/brubeck_app.py:app`, which picks
the backend and the connection (WSGI or Mongrel2) from its command line, so the
same handlers are measured on every transport.
"""

import json
from pathlib import Path
from time import thread_time_ns

from bench.apps import HELLO
from brubeck.app import Brubeck
from brubeck.handlers import JSONMessageHandler, WebMessageHandler

TEMPLATES = Path(__file__).with_name("templates")


class HelloHandler(WebMessageHandler):
    def get(self):
        self.set_body(HELLO)
        return self.render()


class JSONHandler(JSONMessageHandler):
    def get(self):
        self.add_to_payload("message", "Hello, world!")
        self.set_status(200)
        return self.render()


def hello_function(application, message):
    return HELLO


def _page_route():
    """The Jinja2 page, when Brubeck's templating and Jinja2 are both there."""
    try:
        from brubeck.templating import Jinja2Rendering, load_jinja2_env
    except (ImportError, AttributeError):
        return None, None

    class PageHandler(WebMessageHandler, Jinja2Rendering):
        def get(self):
            return self.render_template("page.html", title="Brubeck", items=range(10))

    return PageHandler, load_jinja2_env(str(TEMPLATES))


PageHandler, template_loader = _page_route()


class RenderClock:
    """CPU time of the `render` scenario's timed renders since it was last read."""

    EVERY = 16  # renders per timed one: the clock's two system calls cost microseconds
    calls = 0
    renders = 0
    nanoseconds = 0

    @classmethod
    def read(cls) -> dict:
        """`{"renders": n, "us": mean CPU us}` of the timed renders, and start again."""
        mean = cls.nanoseconds / cls.renders / 1000 if cls.renders else None
        reading = {"renders": cls.renders, "us": mean}
        cls.renders = cls.nanoseconds = 0
        return reading


class RenderHandler(WebMessageHandler):
    """The page rendered by hand, as an app without Brubeck's templating would:
    `Template.render` of the template looked up once, and hello's body sent. Its
    cost above hello is Jinja2's own render in this server. One render in
    `RenderClock.EVERY` is also timed in this thread's CPU time (a render does not
    yield, so no other green thread's work is counted)."""

    template = None

    def get(self):
        template = RenderHandler.template
        if template is None:
            template = RenderHandler.template = \
                self.application.template_env.get_template("page.html")
        RenderClock.calls += 1
        if RenderClock.calls % RenderClock.EVERY:
            template.render(title="Brubeck", items=range(10)).encode("utf-8")
        else:
            started = thread_time_ns()
            template.render(title="Brubeck", items=range(10)).encode("utf-8")
            RenderClock.nanoseconds += thread_time_ns() - started
            RenderClock.renders += 1
        self.set_body(HELLO)
        return self.render()


def render_time(application, message):
    return json.dumps(RenderClock.read())


app = Brubeck(template_loader=template_loader, log_level="WARNING")
app.add_route_rule(r"^/hello$", HelloHandler)
app.add_route_rule(r"^/fn$", hello_function, method="GET")
app.add_route_rule(r"^/json$", JSONHandler)
if PageHandler is not None:
    app.add_route_rule(r"^/page$", PageHandler)
    app.add_route_rule(r"^/render$", RenderHandler)
    app.add_route_rule(r"^/render-time$", render_time, method="GET")
