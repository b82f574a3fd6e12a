"""Brubeck's hardened server on gevent.pywsgi: pywsgi's hooks mapped onto `HardenedConnection`.

pywsgi has no timeouts and no header limits of its own, reads heads through
the email parser and writes headers and body apart; see `brubeck.servers.http`.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

import gevent
import gevent.pool
import gevent.socket
from gevent import pywsgi

from ..concurrency import gevent as backend
from ..errors import loggable
from ..limits import Limits
from .base import Connections, HardenedConnection, accept_share, log, serve_function
from .http import (
    ChunkedBody,
    HeadFields,
    Refusal,
    check_head,
    check_request_line,
    closes_after,
    header_block,
    http_date,
    read_request_line,
)

#: Connections a server with a listener of its own takes per wake-up (pywsgi's default).
GREEDY = 100
#: What pywsgi keeps as its log when given `log=None` (private, hence the fallback).
_NO_ACCESS_LOG = getattr(pywsgi, "_NoopLog", ())


class _ChunkedInput(pywsgi.Input):
    """pywsgi's body stream with its chunked decoder replaced by Brubeck's strict one."""

    __slots__ = ("body",)
    _send_100_continue: Callable[[], None]  # pywsgi's, private: not in its stubs

    def __init__(self, rfile: Any, limits: Limits, socket: Any = None) -> None:
        super().__init__(rfile, None, socket, chunked_input=True)
        self.body = ChunkedBody(rfile, limits)

    def _chunked_read(self, length: int | None = None, use_readline: bool = False) -> bytes:
        self._send_100_continue()
        return self.body.read(length, use_readline)

    def _discard(self) -> None:
        """Never read a body the app left: `run_application` closes the connection instead."""


#: Status codes whose Content-Length pywsgi checks (must be absent or 0).
_LEFT_TO_PYWSGI = ("204", "304")


def _wait_readable(sock: Any) -> None:
    """Park the green thread until `sock` has bytes or EOF (the WSGI glue's disconnect watch)."""
    gevent.socket.wait_read(sock.fileno())


class Handler(HardenedConnection, pywsgi.WSGIHandler):
    """pywsgi's handler holding Brubeck's line: limits, timeouts, unambiguous framing."""

    wsgi_input: Any  # set by pywsgi per request (untyped library)
    # pywsgi's attributes as this class uses them: set by the time it reads them (the
    # stubs allow None), or of another type than the stubs say, or private to pywsgi.
    server: Server
    path: str
    request_version: str
    environ: dict[str, Any]
    headers: HeadFields  # type: ignore[assignment]  # what our MessageClass returns
    status: bytes  # type: ignore[assignment]  # pywsgi's start_response encodes it
    response_headers: list[tuple[bytes, bytes]]  # type: ignore[assignment]  # encoded too
    _orig_status: str
    content_length: int | None  # type: ignore[assignment]  # pywsgi's: None without a body
    _head = b""  # the app's header lines, encoded, when start_response took the fast way

    def handle(self) -> None:
        self.limits = self.server.limits
        self.connections = self.server.connections
        self.socket.settimeout(self.limits.read_timeout)
        self._open(self.socket, gevent.sleep)
        try:
            super().handle()
        finally:
            self._closed()

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        """pywsgi's checks and state, in a few string operations over the whole head
        instead of six calls per header; the rare cases (HTTP/1.0, 204/304, an error
        after a start, a header pywsgi refuses) are left to pywsgi, which knows them."""
        headers = self._response_headers(headers)
        block = header_block(status, headers) if exc_info is None else None
        if block is None or status[:3] in _LEFT_TO_PYWSGI or self.request_version != "HTTP/1.1":
            self._head = b""
            return super().start_response(status, headers, exc_info)
        names = block.lower()  # "\nname:" starts a line: no value holds an LF
        if "\nconnection:" in names and any(
                name.lower() == "connection" and value == "close" for name, value in headers):
            self.close_connection = True
        if "\ndate:" not in names:
            block += "Date: " + http_date() + "\r\n"
        self._head = block.encode("latin-1")  # UnicodeEncodeError: pywsgi's UnicodeError
        self.code = int(status[:3])  # a ValueError, as pywsgi's
        self.status = self._head[:block.index("\r\n")]
        self._orig_status = status
        self.response_headers = []  # what finalize_headers adds: a length, or chunked
        self.provided_date = "set"
        self.provided_content_length = "set" if "\ncontent-length:" in names else None
        return self.write

    def handle_one_request(self) -> Any:
        self.requestline = ""
        return self._serve_one(self.rfile, super().handle_one_request, self._refused)

    def _refused(self, response: bytes) -> tuple[str, bytes]:
        return response[9:12].decode("ascii"), response  # pywsgi writes the bytes as they are

    def _request_line(self) -> str:
        return self.requestline or ""

    def read_requestline(self) -> str:
        raw = read_request_line(self.rfile, self.limits.request_line)
        if not raw.endswith(b"\n"):
            return ""  # the client went away mid-line: close quietly
        self.requestline = raw.decode("latin-1").rstrip("\r\n")  # for the refusal's log line
        check_request_line(raw)
        return self.requestline

    def read_request(self, raw_requestline: str) -> bool:  # type: ignore[override]  # stubs: OldMessage
        """pywsgi's read_request for a line `read_requestline` checked (three words,
        HTTP/1.0 or 1.1): the head read by `HeadFields`, its framing by `check_head`."""
        self.command, self.path, version = raw_requestline.split(" ")
        self.request_version = version
        self.headers = headers = HeadFields.read(self.rfile, self.limits)
        check_head(headers, self.limits, version)
        length = headers.get("content-length")  # plain digits: check_head saw to it
        self.content_length = None if length is None else int(length)
        self.close_connection = closes_after(version, headers)
        return True

    def _headers(self) -> Any:
        return self.headers.environ_items()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        self._head_read(environ)
        environ["brubeck.socket"] = self.socket  # for client-disconnect detection
        environ["brubeck.wait_readable"] = _wait_readable
        stream: Any = self.wsgi_input
        if stream.chunked_input:
            chunked = _ChunkedInput(self.rfile, self.limits, stream.socket)
            if environ["wsgi.input"] is stream:  # not an upgrade, which gets the raw file
                environ["wsgi.input"] = chunked
            self.wsgi_input = chunked
        return environ

    def run_application(self) -> None:
        upgrade = self.environ.get("HTTP_UPGRADE")
        if upgrade and "websocket" in upgrade.lower() and self._websocket():
            return
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

    def _write_with_headers(self, data: bytes) -> None:
        """Headers and body in one write: pywsgi's two writes stall keep-alive on Nagle."""
        self.headers_sent = True
        self.finalize_headers()
        parts = [b"HTTP/1.1 ", self._head] if self._head else [b"HTTP/1.1 %s\r\n" % self.status]
        if self.response_headers:
            parts += [b"%s: %s\r\n" % pair for pair in self.response_headers]
        parts.append(b"\r\n")
        if data and self.response_use_chunked:  # a stream's first chunk (brubeck.streaming)
            parts.append(b"%x\r\n%s\r\n" % (len(data), data))
        elif data:
            parts.append(data)
        self._sendall(b"".join(parts))

    def _sendall(self, data: bytes | bytearray) -> None:
        """pywsgi's, after one plain send: gevent's `sendall` asks the kernel for the
        socket's buffer size before every write (a syscall per response), and a
        response that fits the buffer leaves in that one send."""
        try:
            sent = self.socket.send(data, 0, 0.0)  # type: ignore[call-arg]  # gevent: timeout 0, never waits
        except OSError:  # would block, or failed: pywsgi's sendall meets it and records it
            sent = 0
        if sent < len(data):
            super()._sendall(memoryview(data)[sent:])  # type: ignore[misc]  # private to pywsgi
        self.response_length += sent

    def log_request(self) -> None:
        # pywsgi formats an access-log line per request even with no log to write it to.
        if not isinstance(self.server.log, _NO_ACCESS_LOG):
            super().log_request()

    def _handle_client_error(self, ex: BaseException) -> Any:
        if isinstance(ex, Refusal):
            return self._refused(self._refusal(ex))
        if isinstance(ex, (ValueError, http.client.HTTPException)):  # pywsgi's own checks
            return self._refused(self._refusal(Refusal(400, "Malformed request")))
        return super()._handle_client_error(ex)  # type: ignore[misc]  # private to pywsgi

    def log_error(self, msg: str, *args: Any) -> None:
        """pywsgi's error lines hold client text (the request line): escaped, to our log."""
        try:
            text = msg % args if args else msg
        except (TypeError, ValueError):
            text = f"{msg!r} {args!r}"
        log.warning("%s: %s", self.client_address, loggable(text))


class Server(pywsgi.WSGIServer):
    handler_class = Handler
    limits: Limits
    connections: Connections
    shared = False  # other workers accept from the listener too

    @property
    def max_accept(self) -> int:  # type: ignore[override]  # pywsgi's is a plain attribute
        """Connections taken per wake-up (pywsgi reads it once per wake-up)."""
        return accept_share(self.socket) if self.shared else GREEDY

    def set_max_accept(self) -> None:
        """pywsgi sets 1 for `wsgi.multiprocess`; `max_accept` decides here."""


def _start(app: Callable[..., Any], listener: Any, limits: Limits, connections: Connections,
           shared: bool) -> tuple[Callable[[], Any], Callable[[], Any]]:
    server = Server(listener, application=app, log=None, error_log=log,
                    spawn=gevent.pool.Pool(limits.connections),
                    environ={"wsgi.multiprocess": shared})
    server.shared = shared
    server.limits = limits
    server.connections = connections
    server.start()
    return server.serve_forever, server.close


serve = serve_function(_start, gevent.socket.socket, backend)
