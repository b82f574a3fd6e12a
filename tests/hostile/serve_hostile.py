"""The hostile app as its own server process, for tests that compare the two servers.

    BRUBECK_CONCURRENCY=eventlet python tests/hostile/serve_hostile.py PORT

Besides the hostile routes, POST /body answers with the request body as it was decoded.
"""

import sys

from brubeck import concurrency

backend = concurrency.select()

from brubeck.request_handling import WebMessageHandler  # noqa: E402  (after patching)
from tests.hostile.app import build_hostile_app  # noqa: E402


class BodyHandler(WebMessageHandler):
    def post(self):
        self.headers["Content-Type"] = "application/octet-stream"
        self.set_body(self.message.body)
        return self.render()


def main(port: int) -> None:
    app = build_hostile_app()
    app.add_route_rule(r"^/body$", BodyHandler)
    backend.serve_wsgi(app, "127.0.0.1", port)


if __name__ == "__main__":
    main(int(sys.argv[1]))
