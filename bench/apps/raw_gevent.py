"""Baseline: a bare WSGI function on gevent.pywsgi, no framework.

The server is stock pywsgi with one write per response and TCP_NODELAY (see
fixed_pywsgi), so Brubeck/raw measures everything Brubeck adds: its request
path and its own hardened server.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from bench.apps import HELLO  # noqa: E402
from bench.apps.fixed_pywsgi import serve  # noqa: E402

HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))]


def hello(environ, start_response):
    start_response("200 OK", HEADERS)
    return [HELLO]


if __name__ == "__main__":
    serve(hello, int(sys.argv[1]))
