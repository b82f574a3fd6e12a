"""Baseline: Falcon, a lean WSGI framework, on the same fixed gevent.pywsgi as the raw baseline."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import falcon  # noqa: E402

from bench.apps import HELLO  # noqa: E402
from bench.apps.fixed_pywsgi import serve  # noqa: E402


class Hello:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.data = HELLO


app = falcon.App()
app.add_route("/", Hello())

if __name__ == "__main__":
    serve(app, int(sys.argv[1]))
