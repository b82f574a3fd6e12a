"""The eventlet backend (eventlet is in maintenance mode; gevent is the default)."""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():  # its multi-line deprecation banner; we log one line
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    import eventlet
    import eventlet.event
    import eventlet.patcher
    import eventlet.queue
    import eventlet.tpool
    import eventlet.wsgi

from ..errors import loggable, reason_phrase
from ..http_checks import (
    ChunkedBody,
    HeadReader,
    Refusal,
    check_head,
    check_request_line,
    head_timeout,
    starts_request,
)
from ..limits import DEFAULT_LIMITS, LISTEN_BACKLOG, Limits

name = "eventlet"
log = logging.getLogger("brubeck.wsgi")

spawn = eventlet.spawn
sleep = eventlet.sleep
Queue = eventlet.queue.Queue
Timeout = eventlet.Timeout


class Pool(eventlet.GreenPool):
    """A GreenPool with gevent's `join()` spelling, so callers need not branch."""

    def join(self, timeout: float | None = None) -> bool:
        with eventlet.Timeout(timeout, False):
            self.waitall()
            return True
        return False


class Event:
    """A resettable event with gevent's interface (eventlet's Event fires once)."""

    def __init__(self) -> None:
        self._flag = False
        self._event = eventlet.event.Event()

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        if not self._event.ready():
            self._event.send(True)

    def clear(self) -> None:
        if self._flag:
            self._flag = False
            self._event = eventlet.event.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        event = self._event
        with eventlet.Timeout(timeout, False):
            event.wait()
        return self._flag


def install() -> None:
    """Monkey-patch the stdlib once; a process already patched by eventlet is left alone."""
    if not eventlet.patcher.is_monkey_patched("socket"):
        eventlet.monkey_patch()
    logging.getLogger("brubeck").info(
        "eventlet is in maintenance mode upstream; gevent is Brubeck's default")


def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking C or CPU work in eventlet's native thread pool; the hub stays free."""
    return eventlet.tpool.execute(fn, *args)


def __getattr__(attr: str) -> Any:
    if attr == "zmq":  # imported on first use: WSGI-only apps need no pyzmq
        from eventlet.green import zmq

        return zmq
    raise AttributeError(attr)


class _ChunkedInput(eventlet.wsgi.Input):
    """eventlet's body stream with its chunked decoder replaced by Brubeck's strict one."""

    def __init__(self, stream: eventlet.wsgi.Input, limits: Limits) -> None:
        super().__init__(stream.rfile, None, stream._sock, wfile=stream.wfile,
                         wfile_line=stream.wfile_line, chunked_input=True)
        self.body = ChunkedBody(stream.rfile, limits)

    def _chunked_read(self, rfile: Any, length: int | None = None,
                      use_readline: bool = False) -> bytes:
        if self.should_send_hundred_continue:
            self.send_hundred_continue_response()
            self.is_hundred_continue_response_sent = True
        return self.body.read(length, use_readline)

    def discard(self, buffer_size: int = 0) -> None:
        """Never read a body the app left: where the next request starts is unknown."""
        if not self.body.done:
            raise eventlet.wsgi.ChunkReadError("unread chunked body")  # eventlet then closes


class _Protocol(eventlet.wsgi.HttpProtocol):
    """eventlet's protocol holding Brubeck's line: limits, timeouts, unambiguous framing.

    eventlet already refuses Content-Length with Transfer-Encoding; the rest is
    brubeck.http_checks, read through `HeadReader` instead of eventlet's own
    fixed 8 KiB-per-line / 64 KiB wrapper so the configured limits apply.
    """

    limits: Limits = DEFAULT_LIMITS  # set on a per-server subclass by serve_wsgi

    def setup(self) -> None:
        if self.request.family in (socket.AF_INET, socket.AF_INET6):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()
        limits = self.limits
        self._head_timer = eventlet.Timeout(None, head_timeout(limits))
        self._header_timeout = limits.header_timeout

    def handle_one_request(self) -> None:
        # The head timer runs from accept (or the previous response): a client that
        # connects and sends nothing holds its connection no longer than one that trickles.
        self.raw_requestline = b""
        timer = self._head_timer
        timer.seconds = self._header_timeout
        timer.start()
        try:
            if not starts_request(self.rfile):  # closed, idle, or timed out before a byte
                self.close_connection = 1
                return
            super().handle_one_request()
        except Refusal as refusal:  # the head timer, while reading the request line
            self._refuse(refusal)
        finally:
            timer.cancel()

    def parse_request(self) -> bool:
        outer = self.rfile  # eventlet's FileObjectForHeaders around the connection
        reader = HeadReader(getattr(outer, "fp", outer), self.limits)
        self.rfile = reader
        try:
            check_request_line(self.raw_requestline)
            if not super().parse_request():
                return False
            check_head(self.headers, reader.count, self.limits, self.request_version)
            return True
        except Refusal as refusal:
            self._refuse(refusal)
            return False
        finally:
            self.rfile = outer

    def get_environ(self) -> dict[str, Any]:
        self._head_timer.cancel()  # the head is in: the app's time is not the client's
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        if "content-type" not in self.headers:  # eventlet fills in email's 'text/plain'
            del environ["CONTENT_TYPE"]
        stream = environ["wsgi.input"]
        if stream.chunked_input:
            environ["wsgi.input"] = environ["eventlet.input"] = _ChunkedInput(stream, self.limits)
        return environ

    def handle_one_response(self) -> None:
        # eventlet ignores the app's `Connection: close` and would then read an
        # unread (even endless chunked) body to keep the connection; honour it.
        app = self.application

        def application(environ: dict[str, Any], start_response: Callable) -> Any:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                for name, value in headers:
                    if name.lower() == "connection" and value.lower() == "close":
                        self.close_connection = 1
                        headers = [h for h in headers if h[0].lower() != "connection"]
                        break
                return start_response(status, headers, exc_info)

            return app(environ, start)

        self.application = application
        super().handle_one_response()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's HTML error page and stderr line, made Brubeck's short plain refusal."""
        self._refuse(Refusal(code, message or reason_phrase(code)))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
        """The stdlib's lines hold client text (the request line): escaped."""
        try:
            text = format % args
        except (TypeError, ValueError):
            text = f"{format!r} {args!r}"
        log.debug("%s %s", self.client_address, loggable(text))

    def _refuse(self, refusal: Refusal) -> None:
        line = self.raw_requestline[:200].decode("latin-1").rstrip("\r\n")
        log.info("refused %s %s: %s", self.client_address, loggable(line), loggable(refusal))
        self.close_connection = 1
        try:
            self.wfile.write(refusal.response())
            self.wfile.flush()
        except OSError:
            pass


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
    protocol = type("_Protocol", (_Protocol,), {"limits": limits})
    # Not SO_REUSEPORT (eventlet's default): a second server on a taken port must
    # fail, not silently share it.
    listener = sock if sock is not None else eventlet.listen(
        (host, port), backlog=LISTEN_BACKLOG, reuse_port=False)
    eventlet.wsgi.server(
        listener, app, protocol=protocol, log=log, log_output=False, debug=False,
        url_length_limit=limits.request_line + 1, socket_timeout=limits.read_timeout,
        max_size=limits.connections,
    )
