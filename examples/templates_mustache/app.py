"""Mustache templates (pystache): a page between header/footer partials, templated errors.

    python examples/templates_mustache/app.py    # then: curl 'localhost:6767/brubeck?name=Dave'
                                                 # and:  curl localhost:6767/nowhere  (errors)

Template names may leave out `.mustache`, as in Brubeck 0.4 (`'success'`).
"""

from pathlib import Path

from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck
from brubeck.templating import MustacheRendering, load_mustache_env

TEMPLATES = Path(__file__).resolve().parent / "templates"
QUINTET = ["Dave Brubeck", "Paul Desmond", "Eugene Wright", "Joe Morello"]


class DemoHandler(MustacheRendering):
    def get(self):
        name = self.get_argument("name", "dude")
        return self.render_template("success", name=name, players=QUINTET)


app = Brubeck(
    msg_conn=WSGIConnection(port=6767),
    handler_tuples=[(r"^/brubeck$", DemoHandler)],
    base_handler=MustacheRendering,
    template_loader=load_mustache_env(str(TEMPLATES)),
)

if __name__ == "__main__":
    app.run()
