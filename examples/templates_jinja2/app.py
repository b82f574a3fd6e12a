"""Jinja2 templates: a page from a layout, and templated error pages.

    python examples/templates_jinja2/app.py    # then: curl 'localhost:6767/brubeck?name=Dave'
                                               # and:  curl localhost:6767/nowhere  (errors.html)

The handler uses the README's base order; `base_handler=Jinja2Rendering` makes
404s for unrouted paths render errors.html too; options after the path go to
jinja2.Environment. BRUBECK_CONNECTION and
BRUBECK_CONCURRENCY switch the transport and the backend without editing this file.
"""

from pathlib import Path

from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.templating import Jinja2Rendering, load_jinja2_env

TEMPLATES = Path(__file__).resolve().parent / "templates"
QUINTET = ["Dave Brubeck", "Paul Desmond", "Eugene Wright", "Joe Morello"]


class DemoHandler(WebMessageHandler, Jinja2Rendering):
    def get(self):
        name = self.get_argument("name", "dude")
        return self.render_template("success.html", name=name, players=QUINTET)


app = Brubeck(
    msg_conn=WSGIConnection(port=6767),
    handler_tuples=[(r"^/brubeck$", DemoHandler)],
    base_handler=Jinja2Rendering,
    template_loader=load_jinja2_env(str(TEMPLATES), trim_blocks=True, lstrip_blocks=True),
)

if __name__ == "__main__":
    app.run()
