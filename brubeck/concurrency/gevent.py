"""The gevent backend. Importing this module patches nothing; `install()` does."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.monkey
import gevent.pool
import gevent.queue
from gevent import pywsgi

name = "gevent"
log = logging.getLogger("brubeck.wsgi")

spawn = gevent.spawn
sleep = gevent.sleep
Event = gevent.event.Event
Queue = gevent.queue.Queue
Timeout = gevent.Timeout
Pool = gevent.pool.Pool


def install() -> None:
    """Monkey-patch the stdlib once; a process gunicorn already patched is left alone."""
    if not gevent.monkey.is_module_patched("socket"):
        gevent.monkey.patch_all()


def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking C or CPU work in the hub's native thread pool; the loop stays free."""
    return gevent.get_hub().threadpool.apply(fn, args)


def __getattr__(attr: str) -> Any:
    if attr == "zmq":  # imported on first use: WSGI-only apps need no pyzmq
        import zmq.green

        return zmq.green
    raise AttributeError(attr)


class _OneWriteHandler(pywsgi.WSGIHandler):
    """pywsgi sends headers and body in two writes, which stalls keep-alive on Nagle."""

    def _write_with_headers(self, data: bytes) -> None:
        self.headers_sent = True
        self.finalize_headers()
        buffer = bytearray(b"HTTP/1.1 ")
        buffer += self.status
        buffer += b"\r\n"
        for header, value in self.response_headers:
            buffer += header + b": " + value + b"\r\n"
        buffer += b"\r\n"
        if data:
            buffer += data
        self._sendall(buffer)


class _Server(pywsgi.WSGIServer):
    handler_class = _OneWriteHandler

    def handle(self, sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def serve_wsgi(
    app: Callable, host: str = "127.0.0.1", port: int = 6767, sock: socket.socket | None = None
) -> None:
    """Serve `app` until the process is told to stop."""
    server = _Server(sock if sock is not None else (host, port), app, log=None, error_log=log)
    server.serve_forever()
