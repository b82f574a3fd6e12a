"""Baseline: a bare WSGI function on stock eventlet.wsgi, with TCP_NODELAY.

eventlet.wsgi already sends the head with the first body chunk, so only Nagle
needs turning off; nothing of Brubeck's is imported.
"""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.wsgi

eventlet.monkey_patch()

import socket  # noqa: E402
import sys  # noqa: E402

from bench.apps import HELLO  # noqa: E402

HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))]


class NoDelay(eventlet.wsgi.HttpProtocol):
    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()


def hello(environ, start_response):
    start_response("200 OK", HEADERS)
    return [HELLO]


if __name__ == "__main__":
    listener = eventlet.listen(("127.0.0.1", int(sys.argv[1])))
    eventlet.wsgi.server(listener, hello, protocol=NoDelay, log_output=False, debug=False)
