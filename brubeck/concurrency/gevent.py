"""The gevent backend. Importing this module patches nothing; `install()` does."""

from __future__ import annotations

import http.client
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

from ..errors import loggable
from ..http_checks import (
    ChunkedBody,
    HeadFields,
    Refusal,
    check_head,
    check_request_line,
    head_timeout,
    read_request_line,
    starts_request,
)
from ..limits import DEFAULT_LIMITS, LISTEN_BACKLOG, Limits

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


#: What pywsgi keeps as its log when given `log=None` (private, hence the fallback).
_NO_ACCESS_LOG = getattr(pywsgi, "_NoopLog", ())


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

    def log_request(self) -> None:
        # pywsgi formats an access-log line per request even with no log to write it to.
        if not isinstance(self.server.log, _NO_ACCESS_LOG):
            super().log_request()


class _ChunkedInput(pywsgi.Input):
    """pywsgi's body stream with its chunked decoder replaced by Brubeck's strict one."""

    __slots__ = ("body",)

    def __init__(self, rfile: Any, limits: Limits, socket: Any = None) -> None:
        super().__init__(rfile, None, socket, chunked_input=True)
        self.body = ChunkedBody(rfile, limits)

    def _chunked_read(self, length: int | None = None, use_readline: bool = False) -> bytes:
        self._send_100_continue()
        return self.body.read(length, use_readline)

    def _discard(self) -> None:
        """Never read a body the app left: `run_application` closes the connection instead."""


class _Handler(_OneWriteHandler):
    """pywsgi's handler holding Brubeck's line: limits, timeouts, unambiguous framing.

    pywsgi has no timeouts and no header limits of its own; see brubeck.http_checks.
    """

    _head_timer: gevent.Timeout | None = None

    def handle(self) -> None:
        limits = self.server.limits
        self.socket.settimeout(limits.read_timeout)
        self._head_timer = gevent.Timeout(limits.header_timeout, head_timeout(limits))
        super().handle()

    def handle_one_request(self) -> Any:
        # The head timer runs from accept (or the previous response): a client that
        # connects and sends nothing holds its connection no longer than one that trickles.
        self.requestline = ""
        timer = self._head_timer
        timer.start()
        try:
            if not starts_request(self.rfile):  # closed, idle, or timed out before a byte
                return None
            return super().handle_one_request()
        except Refusal as refusal:  # the head timer, or a refusal while reading the line
            return self._refusal(refusal)
        finally:
            timer.cancel()

    def read_requestline(self) -> str:
        raw = read_request_line(self.rfile, self.server.limits.request_line)
        if not raw.endswith(b"\n"):
            return ""  # the client went away mid-line: close quietly
        self.requestline = raw.decode("latin-1").rstrip("\r\n")  # for the refusal's log line
        check_request_line(raw)
        return self.requestline

    def MessageClass(self, fp: Any, *args: Any) -> Any:  # noqa: N802 (pywsgi's name)
        headers = HeadFields.read(fp, self.server.limits)
        check_head(headers, len(headers), self.server.limits, self.request_version)
        return headers

    def _headers(self) -> Any:
        return self.headers.environ_items()

    def get_environ(self) -> dict[str, Any]:
        self._head_timer.cancel()  # the head is in: the app's time is not the client's
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        stream = self.wsgi_input
        if stream.chunked_input:
            chunked = _ChunkedInput(self.rfile, self.server.limits, stream.socket)
            if environ["wsgi.input"] is stream:  # not an upgrade, which gets the raw file
                environ["wsgi.input"] = chunked
            self.wsgi_input = chunked
        return environ

    def run_application(self) -> None:
        try:
            super().run_application()
        finally:
            stream = self.wsgi_input
            if isinstance(stream, _ChunkedInput):
                if not stream.body.done:
                    self.close_connection = True  # where the next request starts is unknown
            elif stream is not None and self.close_connection:
                # pywsgi would read an unread body to its end before closing;
                # closing without reading it is the point of refusing.
                stream.content_length = stream.position

    def _handle_client_error(self, ex: BaseException) -> Any:
        if isinstance(ex, Refusal):
            return self._refusal(ex)
        if isinstance(ex, (ValueError, http.client.HTTPException)):  # pywsgi's own checks
            return self._refusal(Refusal(400, "Malformed request"))
        return super()._handle_client_error(ex)

    def _refusal(self, refusal: Refusal) -> tuple[str, bytes]:
        log.info("refused %s %s: %s", self.client_address,
                 loggable((self.requestline or "")[:200]), loggable(refusal))
        self.close_connection = True
        return str(refusal.status), refusal.response()

    def log_error(self, msg: str, *args: Any) -> None:
        """pywsgi's error lines hold client text (the request line): escaped, to our log."""
        try:
            text = msg % args if args else msg
        except (TypeError, ValueError):
            text = f"{msg!r} {args!r}"
        log.warning("%s: %s", self.client_address, loggable(text))


class _Server(pywsgi.WSGIServer):
    handler_class = _Handler
    limits: Limits = DEFAULT_LIMITS

    def handle(self, sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def serve_wsgi(
    app: Callable, host: str = "127.0.0.1", port: int = 6767, sock: socket.socket | None = None,
    limits: Limits | None = None,
) -> None:
    """Serve `app` until the process is told to stop; `limits` default to the app's own.

    At most `limits.connections` connections are served at once; at the cap the
    server stops accepting, and new connections wait in the listen backlog until
    one closes (the head timer bounds how long an idle one can hold its place).
    """
    limits = limits or getattr(app, "limits", None) or DEFAULT_LIMITS
    # gevent takes a backlog only for a socket it opens itself.
    listen: dict[str, Any] = {"listener": sock} if sock is not None else {
        "listener": (host, port), "backlog": LISTEN_BACKLOG}
    server = _Server(**listen, application=app, log=None, error_log=log,
                     spawn=gevent.pool.Pool(limits.connections))
    server.limits = limits
    server.serve_forever()
