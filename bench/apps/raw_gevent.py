"""Baseline: a bare WSGI function on gevent.pywsgi, no framework.

It runs on the very server setup Brubeck's gevent backend uses (one write per
response, TCP_NODELAY), so the Brubeck/raw ratio measures framework cost only.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from brubeck.concurrency.gevent import serve_wsgi  # noqa: E402

from bench.apps import HELLO  # noqa: E402

HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))]


def hello(environ, start_response):
    start_response("200 OK", HEADERS)
    return [HELLO]


if __name__ == "__main__":
    serve_wsgi(hello, "127.0.0.1", int(sys.argv[1]))
