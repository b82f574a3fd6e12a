"""WebSockets on the WSGI servers: the upgrade taken in the server, frames on the raw socket.

Both servers' connection handlers call `serve_upgrade` for a request with
`Upgrade: websocket`. It builds the handshake `Request`, asks
`brubeck.websocket.upgrade` (routing and every check before the upgrade), and
either writes the refusal or answers 101 and runs `SocketTransport` in the
connection's green thread: it reads the socket, feeds wsproto (the RFC 6455
framing: masking, fragments, UTF-8, control frames, close codes) and feeds the
events to the handler. `open()` runs in a green thread of its own; once it has
returned, each message's `on_message` runs in this reader (no hop).

Writes go out in the writer's own green thread (no hop: an echo costs one
wsproto parse, one frame and one `sendall`). A slow reader blocks that writer,
at most `websocket_write_timeout` seconds; writes from other green threads
meanwhile (broadcasts) queue, at most 4 x `websocket_max_message_size` bytes.
Past either bound the connection is dropped (no close frame can pass a full
buffer) and logged.
"""

from __future__ import annotations

import _socket
import contextlib
import logging
import socket
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason, FrameProtocol
from wsproto.utilities import LocalProtocolError

from ..datastructures import EnvironHeaders
from ..errors import HTTPError, loggable
from ..limits import Limits
from ..request import Request, build_request
from ..response import Response, http_bytes, refuse
from ..websocket import (
    CLOSE_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
    GOING_AWAY,
    PROTOCOL_ERROR,
    TOO_BIG,
    WebSocketClosed,
    WebSocketHandler,
    accept_key,
    handshake_head,
    is_upgrade,
    setting,
    upgrade,
)

log = logging.getLogger("brubeck.websocket")

__all__ = ["SocketTransport", "brubeck_app", "is_upgrade", "take_upgrade"]

_READ = 65536
#: Frames a broadcast once for every socket: server frames are unmasked, so the
#: bytes are the same for each client.
_ENCODER = FrameProtocol(client=False, extensions=[])


def brubeck_app(wsgi_app: Any) -> Any:
    """The Brubeck app a server serves: itself, or what a wrapper exposes as `.app`."""
    for candidate in (wsgi_app, getattr(wsgi_app, "app", None)):
        if hasattr(candidate, "router") and hasattr(candidate, "backend"):
            return candidate
    return None


def handshake_request(environ: dict[str, Any], limits: Limits) -> Request:
    """The handshake as a Request, through the one request builder (a body is refused
    later by `handshake_error`; none is read)."""
    query = environ.get("QUERY_STRING", "")
    raw_target = environ.get("RAW_URI") or (f"?{query}" if query else "")
    return build_request(
        environ["REQUEST_METHOD"], raw_target, EnvironHeaders(environ), b"",
        remote_addr=environ.get("REMOTE_ADDR", ""),
        scheme=environ.get("wsgi.url_scheme", "http"),
        version=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        limits=limits, declared_length=0, path=environ.get("PATH_INFO", "/"))


def _has_body(environ: dict[str, Any]) -> bool:
    return bool(environ.get("CONTENT_LENGTH") not in (None, "", "0")
                or environ.get("HTTP_TRANSFER_ENCODING"))


def take_upgrade(wsgi_app: Any, environ: dict[str, Any], sock: Any, rfile: Any,
                  limits: Limits, connection: Any = None) -> bool:
    """Take a WebSocket handshake on `sock`; False when no WebSocket route wants it
    (the server then serves it as HTTP). The connection is done when this returns True.

    `connection` is the server's `HardenedConnection`: while the WebSocket is
    open, a drain asks it to close with 1001 (`on_drain`) instead of waiting
    out `shutdown_timeout` for it.
    """
    application = brubeck_app(wsgi_app)
    if application is None:
        return False
    client = environ.get("REMOTE_ADDR", "-")
    line = f"{environ.get('REQUEST_METHOD')} {environ.get('RAW_URI') or environ.get('PATH_INFO')}"
    try:
        request = handshake_request(environ, limits)
        if _has_body(environ):
            raise HTTPError(400, "A WebSocket handshake has no body")
    except HTTPError as error:
        _send(sock, http_bytes(refuse(error, line, client, log), "GET"))
        return True
    outcome = upgrade(application, request)
    if outcome is None:
        return False
    if isinstance(outcome, Response):
        outcome.headers.append(("Connection", "close"))
        _send(sock, http_bytes(outcome, "GET"))
        return True
    try:
        key = outcome.message.headers.get("Sec-WebSocket-Key", "").strip()
        head = handshake_head(outcome, accept_key(key))
    except ValueError as error:
        log.error("refused to send the 101 for %s: %s", loggable(request.path), error)
        _send(sock, http_bytes(Response(b"", 500), "GET"))
        return True
    pending = _buffered(sock, rfile)
    sock.settimeout(None)  # idle is allowed; pings (websocket_ping_interval) bound it
    if not _send(sock, head):
        return True
    transport = SocketTransport(sock, outcome)
    if connection is not None:
        connection.on_drain = transport.going_away
    try:
        transport.run(pending)
    finally:
        if connection is not None:
            connection.on_drain = None
    return True


def _send(sock: Any, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _buffered(sock: Any, rfile: Any) -> bytes:
    """What the server's buffered reader already holds past the head (frames the
    client sent at once), taken without blocking."""
    stream = getattr(rfile, "fp", rfile)
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        return bytes(stream.read1(_READ) or b"")
    except (OSError, ValueError):
        return b""
    finally:
        sock.settimeout(timeout)


class SocketTransport:
    """A `brubeck.websocket.Transport` on a socket, framed by wsproto."""

    #: The connection's green thread reads and runs `on_message` (as Tornado does).
    delivers_inline = True

    def __init__(self, sock: Any, handler: WebSocketHandler) -> None:
        self.sock = sock
        self.handler = handler
        self.backend = handler.application.backend
        self.ws = Connection(ConnectionType.SERVER)
        self.write_timeout = float(setting(handler, "write_timeout", DEFAULT_WRITE_TIMEOUT))
        self.max_queued = 4 * handler.max_size
        self._outbox: list[bytes] = []
        self._queued = 0
        self._writing = False
        self._dropped = False
        self._shut = False
        self._fin_sent = False
        self._deadline = False
        self._parts: list[Any] = []
        self._size = 0
        raw = getattr(sock, "_sock", None) or getattr(sock, "fd", None)  # gevent, eventlet
        #: The green socket's own non-blocking socket, for writes that need no wait.
        self._raw = raw if isinstance(raw, _socket.socket) and raw.gettimeout() == 0.0 else None

    # -- reading ---------------------------------------------------------------------

    def run(self, pending: bytes = b"") -> None:
        """Serve the connection until the client or the close handshake ends it."""
        session = self.handler.start(self)
        try:
            if pending:
                self._receive(pending)
            while not self._dropped:
                try:
                    data = self.sock.recv(_READ)
                except OSError:
                    data = b""
                if not data:
                    break
                self._receive(data)
        finally:
            if not self.handler.closed:
                self.handler.feed_lost()
            self._dropped = True
            self._close_socket()
            if not self.handler.wait_closed(CLOSE_TIMEOUT):  # on_close runs on regardless
                log.debug("on_close of %s still running", type(self.handler).__name__)
            del session

    def _receive(self, data: bytes) -> None:
        if self.ws.state is ConnectionState.CLOSED:
            return  # after the close handshake: nothing more is read
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self._data(event)
            elif isinstance(event, Ping):
                self.handler.feed_ping(bytes(event.payload))
            elif isinstance(event, Pong):
                self.handler.feed_pong(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self._close_event(event)
                return

    def _data(self, event: TextMessage | BytesMessage) -> None:
        if self.handler.closed:
            return  # discarded after a close frame (RFC 6455 1.4)
        data = event.data
        self._size += len(data) if isinstance(data, (bytes, bytearray)) or data.isascii() \
            else len(data.encode("utf-8"))
        if self._size > self.handler.max_size:
            self._parts, self._size = [], 0
            self.handler.fail(TOO_BIG, "Message too big")
            return
        if not event.message_finished:
            self._parts.append(data)
            return
        if self._parts:
            self._parts.append(data)
            data = "".join(self._parts) if isinstance(data, str) else b"".join(self._parts)
            self._parts = []
        self._size = 0
        self.handler.feed_message(data if isinstance(data, str) else bytes(data))

    def _close_event(self, event: CloseConnection) -> None:
        state = self.ws.state
        code = None if event.code == CloseReason.NO_STATUS_RCVD else int(event.code)
        if state is ConnectionState.OPEN:  # wsproto refused a frame: fail the connection
            self.handler.fail(code or PROTOCOL_ERROR, event.reason or "Protocol error")
            self._shutdown()
            return
        self.handler.feed_close(code, event.reason or "")
        self._shutdown()

    # -- writing ---------------------------------------------------------------------

    def send_message(self, message: str | bytes) -> None:
        # Framed as a broadcast is (a whole message needs no state of the connection's),
        # without wsproto's event: the state check is the one `Connection.send` makes.
        if self.ws.state is not ConnectionState.OPEN and not self._dropped:
            raise WebSocketClosed("the WebSocket is closing")
        self._write(bytes(_ENCODER.send_data(message, True)))

    def send_ping(self, data: bytes) -> None:
        self._write(self._frame(Ping(payload=data)))

    def send_pong(self, data: bytes) -> None:
        self._write(self._frame(Pong(payload=data)))

    def send_close(self, code: int | None, reason: str) -> None:
        self._write(self._frame(CloseConnection(
            code=CloseReason.NO_STATUS_RCVD if code is None else code, reason=reason or None)))
        if self.ws.state is ConnectionState.CLOSED:
            self._shutdown()  # we answered the client's close: the server closes first
        else:
            self._start_deadline()

    def abort(self) -> None:
        self._drop(None)

    def going_away(self) -> None:
        """The server drains: close with 1001, so the client reconnects elsewhere (in a
        green thread of its own: a client that does not read must not hold the drain)."""
        self.backend.spawn(self.handler.close, GOING_AWAY, "Server going away")

    def _frame(self, event: Any) -> bytes:
        if self._dropped:
            raise WebSocketClosed("the WebSocket connection is closed")
        try:
            return self.ws.send(event)
        except LocalProtocolError:
            raise WebSocketClosed("the WebSocket is closing") from None

    def _write(self, data: bytes, inline: bool = True) -> None:
        """Send now in this green thread, or queue behind the write in progress."""
        if self._dropped:
            raise WebSocketClosed("the WebSocket connection is closed")
        if self._writing:
            self._outbox.append(data)
            self._queued += len(data)
            if self._queued > self.max_queued:
                self._drop(f"{self._queued} bytes queued for a client that does not read")
            return
        if self._raw is not None:  # most writes fit the socket buffer: no timer, no switch
            try:
                sent = self._raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop(None)
                return
            if sent == len(data):
                return
            data = data[sent:]
        self._writing = True
        if inline:
            self._flush(data)
        else:
            self.backend.spawn(self._flush, data)

    def _flush(self, data: bytes) -> None:
        try:
            while True:
                sent = False
                with self.backend.Timeout(self.write_timeout, False):
                    self.sock.sendall(data)
                    sent = True
                if not sent:
                    self._drop(f"client read nothing for {self.write_timeout:g} s")
                    return
                if not self._outbox or self._dropped:
                    return
                data = b"".join(self._outbox)
                self._outbox, self._queued = [], 0
        except OSError:
            self._drop(None)
        finally:
            self._writing = False
            if self._shut:
                self._shutdown()

    @classmethod
    def broadcast(cls, transports: list[Any], message: str | bytes) -> None:
        """Frame once, then queue the same bytes on each socket; nobody waits for a
        slow client (its bytes queue, up to its bound)."""
        data = bytes(_ENCODER.send_data(message, True))
        for transport in transports:
            if transport._dropped or transport.ws.state is not ConnectionState.OPEN:
                continue
            try:
                transport._write(data, inline=False)
            except WebSocketClosed:
                continue

    # -- closing ---------------------------------------------------------------------

    def _start_deadline(self) -> None:
        if not self._deadline:
            self._deadline = True
            self.backend.spawn(self._close_deadline)

    def _close_deadline(self) -> None:
        """We sent a close frame: the client has `CLOSE_TIMEOUT` s to answer it."""
        self.backend.sleep(CLOSE_TIMEOUT)
        if not self._dropped:
            self._drop(None)

    def _shutdown(self) -> None:
        """No more writes: FIN after what is queued; the reader waits for the client's."""
        self._shut = True
        if self._writing or self._dropped or self._fin_sent:
            return
        self._fin_sent = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self._start_deadline()

    def _drop(self, why: str | None) -> None:
        """Drop the connection without ceremony; the reader sees EOF and ends."""
        if self._dropped:
            return
        self._dropped = True
        self._outbox, self._queued = [], 0
        if why:
            log.warning("WebSocket %s dropped: %s", loggable(self.handler.message.path), why)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        if not self.handler.closed:
            self.handler.feed_lost()

    def _close_socket(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
