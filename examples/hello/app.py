"""Brubeck's Hello World: a class handler and a function route.

    python examples/hello/app.py          # then: curl localhost:6767/brubeck

Same file, other layers: BRUBECK_CONCURRENCY=eventlet, or
BRUBECK_CONNECTION=wsgi://127.0.0.1:8000 (or mongrel2://PULL,PUB).
"""

from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck, WebMessageHandler, http_response

# The name comes from the client: sent as plain text, never as HTML, a
# `?name=<script>...` stays text in the browser.
PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


class DemoHandler(WebMessageHandler):
    def get(self):
        name = self.get_argument("name", "dude")
        self.set_body(f"Take five, {name}!\n", dict(PLAIN))
        return self.render()


config = {
    "handler_tuples": [(r"^/brubeck", DemoHandler)],
    "msg_conn": WSGIConnection(port=6767),
}

app = Brubeck(**config)


@app.add_route(r"^/fun/(?P<name>\w+)$", method="GET")
def fun(application, message, name):
    return http_response(f"Take five, {name}!\n", 200, "OK", dict(PLAIN))


if __name__ == "__main__":
    app.run()
