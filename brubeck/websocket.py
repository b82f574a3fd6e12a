"""WebSockets as handlers, the same on every transport: `WebSocketHandler` and `broadcast`.

A handler answers the handshake (a GET with `Upgrade: websocket`) like any
other request: routing, `prepare()`, cookies, `get_current_user`,
`web_authenticated` on `open`, `check_origin` and `select_subprotocol` all run
*before* the upgrade, and a refusal is an ordinary HTTP answer (403, 400,
426). Once upgraded, the handler lives in a green thread of its own:
`open()`, then `on_message()` per message, then `on_close()`; or `open()`
loops on `receive()`, the synchronous style Brubeck is for.

This module is transport-neutral: it frames nothing and reads no socket. A
transport (`brubeck.servers.websocket` over WSGI servers' sockets with
wsproto, the Mongrel2 connection over Mongrel2's frames) does the I/O:

1. it builds the handshake `Request` and calls `upgrade(application, request)`:
   None (not a WebSocket route: serve it as HTTP), a `Response` (refused:
   send it as it is), or the handler (accepted);
2. it answers 101 (`handshake_head`: `accept_key(key)`, `handler.subprotocol`
   when not None, `handler.handshake_headers()`), then
   calls `handler.start(transport)`, where `transport` is a `Transport`;
3. it feeds what the client sends into the handler, from its reader:
   `feed_message(str | bytes)` for each whole message (text decoded from
   UTF-8 already: `decode_text` raises `ProtocolError(1007)` otherwise),
   `feed_ping(data)`, `feed_pong(data)`, `feed_close(code, reason)` for the
   client's close frame (`code` None when it had none), `feed_lost()` when
   the connection dropped without one, and `fail(code, reason)` for
   anything it refuses itself (a protocol error 1002, bad UTF-8 1007, a
   message over `handler.max_message_size` 1009);
4. the handler answers through the transport's methods. `send_close` is
   called once; after the close handshake (or `fail`) the transport closes
   the connection: the server closes TCP first (RFC 6455 7.1.1).

Pings are answered here (`feed_ping` sends the pong), and the close
handshake is run here (`feed_close` echoes the code), so every transport
behaves alike.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast, runtime_checkable

from .errors import HTTPError, loggable
from .handlers import CurrentUserMixin, WebMessageHandler
from .response import Response

if TYPE_CHECKING:
    from .app import Brubeck
    from .request import Request

log = logging.getLogger("brubeck.websocket")

__all__ = [
    "GUID", "BroadcastTransport", "ProtocolError", "Transport", "WebSocketClosed",
    "WebSocketHandler", "accept_key", "broadcast", "decode_text", "handshake_head", "upgrade",
]

#: RFC 6455's magic string, appended to the client's key for `Sec-WebSocket-Accept`.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Close codes (RFC 6455 7.4.1) Brubeck sends.
NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
INVALID_DATA = 1007
POLICY_VIOLATION = 1008
TOO_BIG = 1009
INTERNAL_ERROR = 1011

#: Defaults of the config keys (`brubeck.config`): 1 MiB; no pings; pongs within 30 s.
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
DEFAULT_PING_TIMEOUT = 30.0
#: Seconds a blocked write may wait for a slow reader before the connection is dropped.
DEFAULT_WRITE_TIMEOUT = 10.0
#: Seconds to wait for the client's close frame after sending ours.
CLOSE_TIMEOUT = 5.0
#: Whole messages waiting for a handler that is busy; past it the reader waits
#: (over a socket: the client's writes stall in TCP, nothing is buffered here).
INBOX_SIZE = 64


class WebSocketClosed(Exception):
    """`write_message`, `ping` or `close` on a connection that is closed or closing."""


class ProtocolError(Exception):
    """What a client sent breaks the protocol: fail the connection with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


@runtime_checkable
class Transport(Protocol):
    """One upgraded connection, as the handler sees it: five ways to send.

    `send_message` sends a str as one text message and bytes as one binary
    message. A transport may block the calling green thread while the client
    is slow to read, but never without bound (it then drops the connection);
    it raises `WebSocketClosed` once the connection is closed.

    A transport with a reader of its own per connection (a socket) may set
    `delivers_inline = True`: once `open()` has returned, `feed_message` then
    runs `on_message` in that reader, as Tornado does, instead of handing each
    message to the session's green thread (two switches and a queue less per
    message; a busy handler stops the reading, so TCP pushes back).
    """

    def send_message(self, message: str | bytes) -> None: ...
    def send_ping(self, data: bytes) -> None: ...
    def send_pong(self, data: bytes) -> None: ...
    def send_close(self, code: int | None, reason: str) -> None: ...
    def abort(self) -> None: ...


@runtime_checkable
class BroadcastTransport(Protocol):
    """A transport class that sends one message to many of its connections at once
    (Mongrel2: one reply to up to 128 connection ids; sockets: frame it once)."""

    @classmethod
    def broadcast(cls, transports: list[Any], message: str | bytes) -> None: ...


def accept_key(key: str) -> str:
    """`Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key` (RFC 6455 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_head(handler: WebSocketHandler, accept: str) -> bytes:
    """The 101 head every transport sends: `accept` (`accept_key`, or Mongrel2's), the
    chosen subprotocol, the handler's own headers. ValueError for a header holding CR,
    LF or NUL (nothing is sent: the transport answers 500)."""
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept}"]
    if handler.subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {handler.subprotocol}")
    for name, value in handler.handshake_headers():
        if any(c in name or c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r} holds CR, LF or NUL")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def decode_text(payload: bytes) -> str:
    """A text message's payload as str; invalid UTF-8 is a `ProtocolError` (1007)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(INVALID_DATA, "Text message is not valid UTF-8") from None


def _tokens(value: str | None) -> set[str]:
    return {token.strip().lower() for token in (value or "").split(",")}


def handshake_error(request: Request) -> HTTPError | None:
    """What is wrong with a WebSocket handshake (RFC 6455 4.2.1), or None; one place
    for every transport. A wrong version gets 426 naming the one spoken."""
    headers = request.headers
    if request.method != "GET":
        return HTTPError(405, "WebSocket handshakes are GET requests", headers={"Allow": "GET"})
    if "websocket" not in _tokens(headers.get("Upgrade")):
        return HTTPError(400, "Upgrade: websocket expected")
    if "upgrade" not in _tokens(headers.get("Connection")):
        return HTTPError(400, "Connection: Upgrade expected")
    # A repeated header counts whole, as a WSGI server joins it (Mongrel2 keeps each).
    if ", ".join(headers.get_all("Sec-WebSocket-Version")).strip() != "13":
        return HTTPError(426, "Unsupported WebSocket version",
                         headers={"Sec-WebSocket-Version": "13"})
    key = ", ".join(headers.get_all("Sec-WebSocket-Key")).strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        return HTTPError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    if request.body:
        return HTTPError(400, "A WebSocket handshake has no body")
    return None


def is_upgrade(headers: Any) -> bool:
    """Whether a request asks for a WebSocket (cheap: one header lookup)."""
    value = headers.get("Upgrade")
    return value is not None and "websocket" in value.lower()


def upgrade(application: Brubeck, request: Request) -> WebSocketHandler | Response | None:
    """The handshake's outcome: None if the route is no WebSocketHandler (serve it as
    HTTP), a Response refusing it (403, 400, 426...), or the accepted handler."""
    found = application.router.match(request.path, "GET")
    route = found.route
    target = route.target if route is not None else None
    if not (isinstance(target, type) and issubclass(target, WebSocketHandler)):
        return None
    # The rules every request gets in `Brubeck.handle`: the proxy's scheme, Host.
    response = _prelude(application, request)
    if response is not None:
        return response
    try:
        handler = target(application, request)
    except Exception as exc:
        return cast(Response, application.base_handler(application, request)
                    .answer_exception(exc))
    handler._url_args = found.args
    handler._url_kwargs = found.kwargs
    return handler.handshake()


def _prelude(application: Brubeck, request: Request) -> Response | None:
    """`Brubeck.handle`'s per-request rules (trusted proxies' scheme, `allowed_hosts`)."""
    from .app import forwarded_scheme  # the app layer sits below this module

    if application.trusted_proxies and request.remote_addr in application.trusted_proxies:
        request.scheme = forwarded_scheme(request) or request.scheme
    if application.allowed_hosts is None:
        return None
    try:
        application._check_host(request)
    except HTTPError as err:
        return application._answer_error(request, err)
    return None


def setting(handler: WebSocketHandler, name: str, default: Any) -> Any:
    """A handler class's own `name`, else the app's `websocket_<name>` config key,
    else `default`."""
    value = getattr(type(handler), name, None)
    if value is None:
        key = f"websocket_{name}"
        application = handler.application
        value = getattr(application, key, None)
        if value is None:
            value = (getattr(application, "config", None) or {}).get(key)
    return default if value is None else value


class WebSocketHandler(CurrentUserMixin, WebMessageHandler):
    """A WebSocket endpoint: Tornado's names, Brubeck's green threads.

    Override `open(*args, **kwargs)` (URL groups as for `get`), `on_message(message)`
    (str for text, bytes for binary) and `on_close()`; or loop on `receive()` in
    `open()`. Send with `write_message`, `ping`, `close`.
    """

    #: Per-handler overrides of the app's `websocket_*` config keys (None: the app's).
    max_message_size: ClassVar[int | None] = None
    ping_interval: ClassVar[float | None] = None
    ping_timeout: ClassVar[float | None] = None
    write_timeout: ClassVar[float | None] = None

    _CLOSED = object()  # the inbox's end marker

    def __init__(self, application: Brubeck, message: Request, *args: Any, **kwargs: Any) -> None:
        super().__init__(application, message, *args, **kwargs)
        self.transport: Any = None
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._sent_close = False
        self._closed = False
        self._inbox: Any = None
        self._done: Any = None
        self._last_heard = time.monotonic()
        self._direct = False  # on_message runs in the transport's reader
        self._handed_over = False  # ...since the session returned (it ends nothing then)
        self._delivering = False  # ...and is running now
        self._feeding = False  # the reader waits to put a message in the inbox
        self._end_pending = False
        self._ended = False

    # -- the handshake (before the upgrade) ------------------------------------------

    def check_origin(self, origin: str) -> bool:
        """Accept the handshake from this page's `Origin`? Default: the same host (as
        Tornado), so another site's script cannot use the user's cookies here."""
        from urllib.parse import urlsplit

        try:
            origin_host = urlsplit(origin).netloc.lower()
        except ValueError:
            return False
        host = (self.message.headers.get("Host") or "").lower()
        return bool(origin_host) and origin_host == host

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """The subprotocol to speak, one of the client's `subprotocols`; None for none."""
        return None

    def handshake_headers(self) -> list[tuple[str, str]]:
        """Headers for the 101 besides the protocol's own: cookies `prepare` set."""
        headers = [(k, v) for k, v in self.headers.items()]
        if hasattr(self, "_cookies"):
            headers.extend(self.convert_cookies())
        return headers

    def _requires_user(self) -> bool:
        opener = getattr(type(self), "open", None)
        return bool(getattr(opener, "needs_cookie_secret", False))

    def handshake(self) -> WebSocketHandler | Response:
        """Run the checks before the upgrade: self if accepted, else the refusal."""
        try:
            error = handshake_error(self.message)
            if error is not None:
                raise error
            self.prepare()
            if self._finished:
                return self.render()
            origin = self.message.headers.get("Origin")
            if origin is not None and not self.check_origin(origin):
                raise HTTPError(403, "Cross-origin WebSocket refused",
                                log_message=f"origin {loggable(origin)} refused")
            if self._requires_user() and not self.current_user:
                raise HTTPError(403, "Authentication required",
                                log_message="WebSocket handshake without a user")
            offered = [p.strip() for p in
                       ",".join(self.message.headers.get_all("Sec-WebSocket-Protocol")).split(",")
                       if p.strip()]
            if offered:
                chosen = self.select_subprotocol(offered)
                if chosen is not None and chosen not in offered:
                    raise ValueError(f"select_subprotocol chose {chosen!r}, not offered")
                self.subprotocol = chosen
        except Exception as exc:
            return cast(Response, self.answer_exception(exc))
        return self

    def get(self, *args: Any, **kwargs: Any) -> Response:
        """Reached only when no transport took the upgrade: say what is needed."""
        if is_upgrade(self.message.headers):
            log.warning("%s: no server took this WebSocket handshake: serve with brubeck's "
                        "own servers or Mongrel2, with wsproto installed "
                        "(pip install 'brubeck[websocket]')", loggable(self.message.path))
            return cast(Response, self.write_error(
                501, HTTPError(501, "WebSocket upgrade not supported here")))
        return cast(Response, self.write_error(426, HTTPError(426, "Upgrade Required", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"})))

    # -- the session (after the upgrade) ---------------------------------------------

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Called once, after the handshake, with the route's URL groups."""

    def on_message(self, message: str | bytes) -> None:
        """Called per message the client sends (unless `open` consumed them)."""

    def on_close(self) -> None:
        """Called once the connection is closed; `close_code`/`close_reason` are the
        client's (None if it sent none)."""

    def on_ping(self, data: bytes) -> None:
        """The client pinged (already answered with a pong)."""

    def on_pong(self, data: bytes) -> None:
        """The client answered a ping."""

    def start(self, transport: Transport) -> Any:
        """Begin the session over `transport` (the transport calls this after the 101);
        returns the green thread running it."""
        backend = self.application.backend
        self.transport = transport
        self._inbox = backend.Queue(INBOX_SIZE)
        self._done = backend.Event()
        self._last_heard = time.monotonic()
        if setting(self, "ping_interval", None):
            backend.spawn(self._keep_alive)
        return backend.spawn(self._session)

    def _session(self) -> None:
        inline = getattr(self.transport, "delivers_inline", False)
        try:
            self.open(*self._url_args, **self._url_kwargs)
        except Exception as error:
            self._crashed(error)
            self._end()
            return
        while not self._ended:
            if inline and not self._feeding and self._inbox.empty() and not self._closed:
                self._direct = self._handed_over = True  # the reader runs on_message now
                return
            message = self.receive()
            if message is None:
                break
            self._deliver(message)
        self._end()

    def _crashed(self, error: Exception) -> None:
        # A write after the close began (behind Mongrel2 sending the Close yields)
        # ends the session quietly; anything else is the handler's crash: 1011.
        if not (isinstance(error, WebSocketClosed) and self.closed):
            log.exception("WebSocket handler %s failed", type(self).__name__)
            if not self.closed:
                self._send_close(INTERNAL_ERROR, "")

    def _deliver(self, message: str | bytes) -> None:
        """`on_message`, in the session or in the transport's reader
        (`Transport.delivers_inline`); a crash sends 1011 and ends the session."""
        self._delivering = True
        try:
            self.on_message(message)
        except Exception as error:
            self._crashed(error)
            self._end_pending = True
        finally:
            self._delivering = False
        if self._end_pending:
            self._end()

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.on_close()
        except Exception:
            log.exception("on_close failed in %s", type(self).__name__)
        finally:
            self._done.set()

    def _mark_closed(self) -> None:
        """No more messages: the session's `receive()` returns None, or (messages run
        in the reader) `on_close` runs once the message in hand is done."""
        if not self._direct:
            self._push(self._CLOSED)  # for the session, or a receive() after the hand-over
            if not self._handed_over:
                return
        if self._delivering:
            self._end_pending = True
        else:  # in a green thread of its own, as the session would run it
            self.application.backend.spawn(self._end)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until `on_close` has run (transports and tests use it)."""
        return bool(self._done.wait(timeout))

    def _keep_alive(self) -> None:
        """Ping every `ping_interval` s; drop a client silent past `ping_timeout` more."""
        backend = self.application.backend
        interval = float(setting(self, "ping_interval", 0))
        timeout = float(setting(self, "ping_timeout", DEFAULT_PING_TIMEOUT))
        while not self._closed:
            backend.sleep(interval)
            if self._closed:
                return
            if time.monotonic() - self._last_heard > interval + timeout:
                log.info("WebSocket client silent for %.0f s: dropped", interval + timeout)
                self._closed = True
                self.transport.abort()
                self._mark_closed()
                return
            try:
                self.transport.send_ping(b"")
            except WebSocketClosed:
                return

    # -- what the handler calls ---------------------------------------------------------

    def receive(self, timeout: float | None = None) -> str | bytes | None:
        """The next message (green-blocking); None once the connection is closed.
        Raises TimeoutError if `timeout` seconds pass first.

        Call it from `open()` (or a green thread of its own); once `open()` has
        returned, messages go to `on_message`, which must not wait in `receive()`.
        """
        if self._inbox is None:
            raise WebSocketClosed("receive() before the upgrade")
        if self._delivering:
            raise RuntimeError("receive() inside on_message: the next message is the "
                               "next on_message call")
        self._direct = False  # a green thread of the handler's takes the messages again
        if self._closed and self._inbox.empty():
            return None
        if timeout is None:  # the usual case: no timer to start and cancel per message
            message = self._inbox.get()
        else:
            got: list[Any] = []
            with self.application.backend.Timeout(timeout, False):
                got.append(self._inbox.get())
            if not got:
                raise TimeoutError(f"no WebSocket message within {timeout} s")
            message = got[0]
        if message is self._CLOSED:
            self._inbox.put(message)  # every later receive() returns None too
            return None
        return message  # type: ignore[no-any-return]

    def write_message(self, message: str | bytes, binary: bool = False) -> None:
        """Send one message: str as text, bytes as binary (`binary=True` encodes a str).

        On a slow reader this blocks the calling green thread until the client reads,
        at most `websocket_write_timeout` seconds, then the connection is dropped.
        """
        if self._sent_close or self._closed or self.transport is None:
            raise WebSocketClosed("the WebSocket is closed")
        if binary and isinstance(message, str):
            message = message.encode("utf-8")
        elif not isinstance(message, (str, bytes)):
            message = bytes(message) if isinstance(message, (bytearray, memoryview)) \
                else _to_text(message)
        self.transport.send_message(message)

    def ping(self, data: bytes = b"") -> None:
        """Send a ping (at most 125 bytes); `on_pong` hears the answer."""
        if len(data) > 125:
            raise ValueError("a ping carries at most 125 bytes")
        if self._sent_close or self._closed or self.transport is None:
            raise WebSocketClosed("the WebSocket is closed")
        self.transport.send_ping(data)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the close handshake; `receive()` returns None from now on."""
        if len(reason.encode("utf-8")) > 123:
            raise ValueError("a close reason is at most 123 bytes of UTF-8")
        if self.transport is None or self._sent_close or self._closed:
            return
        self._send_close(code, reason)
        self._mark_closed()

    def _send_close(self, code: int | None, reason: str) -> None:
        self._sent_close = True
        with contextlib.suppress(WebSocketClosed):
            self.transport.send_close(code, reason)

    def _push(self, item: Any) -> bool:
        try:
            self._inbox.put_nowait(item)
            return True
        except Exception:  # full: a close marker must still get in
            if item is self._CLOSED:
                self._closed = True
            return False

    # -- what the transport feeds in -------------------------------------------------

    def feed_message(self, message: str | bytes, block: bool = True) -> None:
        """A whole message from the client. Over the size limit: close 1009. With
        `block`, waits while `INBOX_SIZE` messages are queued; without, a full inbox
        fails the connection with 1008 (a transport that cannot stall one client)."""
        self._last_heard = time.monotonic()
        if self._sent_close or self._closed:
            return  # after our close frame, data is discarded (RFC 6455 1.4)
        size = len(message) if isinstance(message, bytes) or message.isascii() \
            else len(message.encode("utf-8"))
        if size > self.max_size:
            self.fail(TOO_BIG, "Message too big")
            return
        if self._direct:
            self._deliver(message)
        elif block:
            self._feeding = True
            try:
                self._inbox.put(message)
            finally:
                self._feeding = False
        elif not self._push(message):
            self.fail(POLICY_VIOLATION, "Messages arrive faster than the handler reads them")

    @property
    def max_size(self) -> int:
        """The largest message accepted, in bytes (`websocket_max_message_size`)."""
        return int(setting(self, "max_message_size", DEFAULT_MAX_MESSAGE_SIZE))

    def feed_ping(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        if not self._sent_close and not self._closed:
            try:
                self.transport.send_pong(data)
            except WebSocketClosed:
                return
        self._hook(self.on_ping, data)

    def feed_pong(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        self._hook(self.on_pong, data)

    def _hook(self, hook: Any, data: bytes) -> None:
        try:
            hook(data)
        except Exception:
            log.exception("%s failed in %s", hook.__name__, type(self).__name__)

    def feed_close(self, code: int | None, reason: str) -> None:
        """The client's close frame: answered with the same code (RFC 6455 5.5.1)."""
        self.close_code, self.close_reason = code, reason
        if not self._sent_close:
            self._send_close(code, "")
        self._closed = True
        self._mark_closed()

    def feed_lost(self) -> None:
        """The connection dropped without a close frame."""
        self._closed = True
        self._mark_closed()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 7.1.7): a close frame with `code`, then no more."""
        log.info("WebSocket %s closed %d: %s", loggable(self.message.path), code, reason)
        if not self._sent_close:
            self._send_close(code, reason)
        self._closed = True
        self._mark_closed()

    @property
    def closed(self) -> bool:
        """True once either side sent a close frame or the connection dropped."""
        return self._closed or self._sent_close


def _to_text(message: Any) -> str:
    """A dict or list becomes JSON text (as Tornado's write_message does)."""
    from .handlers import to_json

    return to_json(message)


def broadcast(handlers: Iterable[Any], message: str | bytes) -> int:
    """Send `message` to every open handler (or transport) in `handlers`; returns how
    many it was sent to. Transports that can send to many at once do (Mongrel2: one
    reply per 128 connections); a slow client never delays the others."""
    groups: dict[type, list[Any]] = {}
    count = 0
    for item in handlers:
        transport = item.transport if isinstance(item, WebSocketHandler) else item
        if transport is None or (isinstance(item, WebSocketHandler) and item.closed):
            continue
        groups.setdefault(type(transport), []).append(transport)
    for kind, transports in groups.items():
        count += len(transports)
        many = getattr(kind, "broadcast", None)
        if many is not None:
            many(transports, message)
            continue
        for transport in transports:
            try:
                transport.send_message(message)
            except WebSocketClosed:
                count -= 1
    return count
