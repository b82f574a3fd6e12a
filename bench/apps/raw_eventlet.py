"""Baseline: a bare WSGI function on eventlet.wsgi (TCP_NODELAY as Brubeck sets it)."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from brubeck.concurrency.eventlet import serve_wsgi  # noqa: E402

from bench.apps import HELLO  # noqa: E402

HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))]


def hello(environ, start_response):
    start_response("200 OK", HEADERS)
    return [HELLO]


if __name__ == "__main__":
    serve_wsgi(hello, "127.0.0.1", int(sys.argv[1]))
