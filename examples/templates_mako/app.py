"""Mako templates: a page from a layout, and templated error pages.

    python examples/templates_mako/app.py    # then: curl 'localhost:6767/brubeck?name=Dave'
                                             # and:  curl localhost:6767/nowhere  (errors.html)

`MakoRendering` alone is a handler base, as in Brubeck 0.4's demos. `${value}`
is HTML-escaped by default (`${value | n}` writes it raw).
"""

from pathlib import Path

from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck
from brubeck.templating import MakoRendering, load_mako_env

TEMPLATES = Path(__file__).resolve().parent / "templates"
QUINTET = ["Dave Brubeck", "Paul Desmond", "Eugene Wright", "Joe Morello"]


class DemoHandler(MakoRendering):
    def get(self):
        name = self.get_argument("name", "dude")
        return self.render_template("success.html", name=name, players=QUINTET)


app = Brubeck(
    msg_conn=WSGIConnection(port=6767),
    handler_tuples=[(r"^/brubeck$", DemoHandler)],
    base_handler=MakoRendering,
    template_loader=load_mako_env(str(TEMPLATES)),
)

if __name__ == "__main__":
    app.run()
