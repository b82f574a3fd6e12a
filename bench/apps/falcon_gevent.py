"""Baseline: Falcon, a lean WSGI framework, on the same gevent.pywsgi setup as Brubeck."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import falcon  # noqa: E402

from brubeck.concurrency.gevent import serve_wsgi  # noqa: E402

from bench.apps import HELLO  # noqa: E402


class Hello:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.data = HELLO


app = falcon.App()
app.add_route("/", Hello())

if __name__ == "__main__":
    serve_wsgi(app, "127.0.0.1", int(sys.argv[1]))
