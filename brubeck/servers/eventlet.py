"""Brubeck's hardened server on eventlet.wsgi: its hooks mapped onto `HardenedConnection`.

eventlet already refuses Content-Length with Transfer-Encoding; the rest is
`brubeck.servers.http`: the head is read by `HeadFields`, not by eventlet's fixed
8 KiB-per-line / 64 KiB wrapper and the email parser, so the configured limits apply.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():  # its multi-line deprecation banner; the backend logs one line
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    import eventlet
    import eventlet.green.socket
    import eventlet.greenio
    import eventlet.hubs
    import eventlet.wsgi

from ..concurrency import eventlet as backend
from ..errors import loggable, reason_phrase
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
)


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


def _wait_readable(sock: Any) -> None:
    """Park the green thread until `sock` has bytes or EOF (the WSGI glue's disconnect watch)."""
    eventlet.hubs.trampoline(sock.fileno(), read=True)


class Protocol(HardenedConnection, eventlet.wsgi.HttpProtocol):
    """eventlet's protocol holding Brubeck's line: limits, timeouts, unambiguous framing."""

    rfile: Any  # set by eventlet (untyped library)
    application: Any

    def setup(self) -> None:
        self._open(self.request, eventlet.sleep)
        super().setup()
        # eventlet asks the kernel for the server's address on every request (a
        # syscall for SERVER_NAME); a connection's own end never moves.
        name = self.request.getsockname()
        self.request.getsockname = lambda: name

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            self._closed()

    def handle_one_request(self) -> None:
        self.raw_requestline = b""
        rfile: Any = self.rfile
        self._serve_one(rfile, super().handle_one_request, self._write_refusal)

    def _request_line(self) -> str:
        line: bytes = self.raw_requestline
        return line[:200].decode("latin-1").rstrip("\r\n")

    def _write_refusal(self, response: bytes) -> None:
        try:
            self.wfile.write(response)
            self.wfile.flush()
        except OSError:
            pass

    def parse_request(self) -> bool:
        """The stdlib's parse_request (eventlet's) over Brubeck's own head parser.

        The stdlib reads the head through the email parser, which cost a third of
        a request's calls and counted lines against a fixed 100; `HeadFields` is
        the one parser both servers share. The stdlib's connection rules are kept.
        """
        outer: Any = self.rfile  # eventlet's FileObjectForHeaders around the connection
        try:
            check_request_line(self.raw_requestline)  # so: three words, HTTP/1.0 or 1.1
            self.requestline = self.raw_requestline[:-2].decode("latin-1")
            self.command, path, version = self.requestline.split(" ")
            self.request_version = version
            if path.startswith("//"):  # the stdlib's guard: "//host" reads as another site
                path = "/" + path.lstrip("/")
            self.path = path
            self.headers = headers = HeadFields.read(getattr(outer, "fp", outer), self.limits)
            check_head(headers, self.limits, version)
        except Refusal as refusal:
            self._write_refusal(self._refusal(refusal))
            return False
        self.close_connection = closes_after(version, headers)
        return True

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        self._head_read(environ)
        environ["brubeck.socket"] = self.request  # for client-disconnect detection
        environ["brubeck.wait_readable"] = _wait_readable
        if "content-type" not in self.headers:  # eventlet fills in email's 'text/plain'
            del environ["CONTENT_TYPE"]
        stream = environ["wsgi.input"]
        if stream.chunked_input:
            environ["wsgi.input"] = environ["eventlet.input"] = _ChunkedInput(stream, self.limits)
        return environ

    def handle_one_response(self) -> None:
        upgrade = self.environ.get("HTTP_UPGRADE")
        if upgrade and "websocket" in upgrade.lower() and self._websocket():
            return
        # eventlet ignores the app's `Connection: close` and would then read an
        # unread (even endless chunked) body to keep the connection; honour it.
        app: Callable[..., Any] = self.application

        def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                headers = self._response_headers(headers)
                block = header_block(status, headers)
                if block is None:  # eventlet would send a CR or LF as is: header injection
                    raise ValueError("a response status or header is not str, or holds CR or LF")
                if "\nconnection:" in block.lower():
                    for name, value in headers:
                        if name.lower() == "connection" and value.lower() == "close":
                            self.close_connection = True
                            headers = [h for h in headers if h[0].lower() != "connection"]
                            break
                return start_response(status, headers, exc_info)

            return app(environ, start)

        self.application = application
        super().handle_one_response()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's HTML error page and stderr line, made Brubeck's short plain refusal."""
        self._write_refusal(self._refusal(Refusal(code, message or reason_phrase(code))))

    def log_message(self, format: str, *args: Any) -> None:
        """The stdlib's lines hold client text (the request line): escaped."""
        try:
            text = format % args
        except (TypeError, ValueError):
            text = f"{format!r} {args!r}"
        log.debug("%s %s", self.client_address, loggable(text))


def _start(app: Callable[..., Any], listener: Any, limits: Limits, connections: Connections,
           shared: bool) -> tuple[Callable[[], Any], Callable[[], Any]]:
    protocol = type("Protocol", (Protocol,), {"limits": limits, "connections": connections})
    server = eventlet.wsgi.Server(
        listener, listener.getsockname(), app, log, protocol=protocol, log_output=False,
        debug=False, url_length_limit=limits.request_line + 1,
        socket_timeout=limits.read_timeout, environ={"wsgi.multiprocess": shared})
    # Header names go out as the app spelled them, as on gevent (`ETag` stays `ETag`), not
    # re-capitalized part by part at five calls a header. Set after construction: the
    # keyword warns, written for apps that send lower-case names, which Brubeck does not.
    server.capitalize_response_headers = False
    acceptor = eventlet.spawn(_accept, listener, server, eventlet.GreenPool(limits.connections),
                              shared)

    def stop_accepting() -> None:
        acceptor.kill()
        listener.close()

    def forever() -> None:
        try:
            acceptor.wait()
        finally:
            stop_accepting()

    return forever, stop_accepting


serve = serve_function(_start, eventlet.green.socket.socket, backend)


def _accept(listener: Any, server: Any, pool: Any, shared: bool) -> None:
    """eventlet.wsgi.server's accept loop, without its unbounded wait for every connection
    on the way out (the drain has a deadline) or its stop on a transient accept error.

    A full pool blocks `spawn`: at the connection cap, new connections wait in the backlog.
    On a `shared` listener a wake-up takes its `accept_share` and yields (a green accept
    that finds a connection waiting never does): the first worker awake took a burst.
    """
    left = 0  # of this wake-up's share
    while True:
        try:
            client, address = listener.accept()
        except OSError as error:  # out of descriptors, say: keep serving the open ones
            log.warning("accept failed: %s", error)
            eventlet.sleep(0.1)
            continue
        client.settimeout(server.socket_timeout)
        pool.spawn(server.process_request, [address, client, eventlet.wsgi.STATE_IDLE]) \
            .link(_close_client, client)
        if shared:
            if not left:  # woke: the one taken counts among those waiting
                left = accept_share(listener, taken=1)
            left -= 1
            if not left:
                eventlet.sleep(0)


def _close_client(_: Any, client: Any) -> None:
    eventlet.greenio.shutdown_safe(client)
    client.close()
