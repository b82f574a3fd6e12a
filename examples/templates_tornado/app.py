"""Tornado templates: a page from a layout, and templated error pages.

    python examples/templates_tornado/app.py    # then: curl 'localhost:6767/brubeck?name=Dave'
                                                # and:  curl localhost:6767/nowhere  (errors.html)

Only `tornado.template` is used: no IOLoop; gevent or eventlet serve the requests.
"""

from pathlib import Path

from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck
from brubeck.templating import TornadoRendering, load_tornado_env

TEMPLATES = Path(__file__).resolve().parent / "templates"
QUINTET = ["Dave Brubeck", "Paul Desmond", "Eugene Wright", "Joe Morello"]


class DemoHandler(TornadoRendering):
    def get(self):
        name = self.get_argument("name", "dude")
        return self.render_template("success.html", name=name, players=QUINTET)


app = Brubeck(
    msg_conn=WSGIConnection(port=6767),
    handler_tuples=[(r"^/brubeck$", DemoHandler)],
    base_handler=TornadoRendering,
    template_loader=load_tornado_env(str(TEMPLATES)),
)

if __name__ == "__main__":
    app.run()
