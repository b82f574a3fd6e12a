"""What both hardened WSGI servers add to their library's connection handler, written once.

gevent.pywsgi and eventlet.wsgi differ in names and hooks, not in what Brubeck
needs from them: TCP_NODELAY on each accepted socket, a head timer that runs
from accept (or the previous response) until the head is in, the target as
sent in `RAW_URI`, one refusal (log line, short response, close), a cap on
open connections, a turn for the other connections between one keep-alive
request and the next, a listen socket with a deep backlog that never shares
its port, and one drain on shutdown (`Connections.drain`). `HardenedConnection`
holds those; each server's subclass only maps its library's hooks onto them.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ..concurrency import process
from ..concurrency.deadlines import Deadlines, Expired
from ..errors import HTTPError
from ..limits import DEFAULT_LIMITS, Limits
from ..response import http_bytes, plain_response, refuse
from .http import head_timeout, starts_request

if TYPE_CHECKING:
    from ..concurrency import Backend

log = logging.getLogger("brubeck.wsgi")


def set_nodelay(sock: Any) -> None:
    """Responses go out in one write; Nagle would hold keep-alive replies back."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def accept_share(listener: Any, taken: int = 0) -> int:
    """How many connections to take from a shared listener in one wake-up: half of those
    waiting (with the `taken` ones this wake-up accepted already), at least one.

    Workers share the supervisor's socket. Taking all of them, the first worker
    awake took a whole burst of connects; taking one per wake-up, a busy worker
    served a turn of every connection between two accepts, and at 500 connects the
    last waited seconds. Halves leave the others their part in a few wake-ups.
    Linux gives the queue's length as TCP_INFO's `unacked` for a listening socket.
    """
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
        waiting: int = _UNACKED.unpack_from(info, _UNACKED_AT)[0]
    except (OSError, AttributeError, struct.error):  # not Linux: one at a time
        return 1
    return max(1, (waiting + taken) // 2)


_TCP_INFO_SIZE = 104
_UNACKED, _UNACKED_AT = struct.Struct("I"), 24  # after 8 one-byte fields and 4 others


def listen_socket(host: str, port: int, make_socket: Callable[..., Any]) -> Any:
    """The socket to serve from, made by the backend's green `make_socket`.

    The supervisor's (`BRUBECK_LISTEN_FD`), else bound now with backlog
    `LISTEN_BACKLOG` (the libraries' 50 or 128 overflowed at 500 simultaneous
    connects, and SYN retries made a multi-second tail) and not SO_REUSEPORT:
    a second server on a taken port must fail (`process.ListenError`), not share it.
    """
    return process.listen(host, port, make_socket)


def server_limits(app: Callable[..., Any], limits: Limits | None) -> Limits:
    """The limits to serve with: the given ones, else the app's own, else the defaults."""
    return limits or getattr(app, "limits", None) or DEFAULT_LIMITS


#: The answer to a request still running when the drain ends.
STRAGGLER = http_bytes(plain_response(503, headers=[("Retry-After", "1"),
                                                    ("Connection", "close")]), "GET")


class Connections:
    """A server's open connections, idle (between requests) or busy (in one), for the drain,
    and the head limits of them all (`heads`: one loop timer, not a Timeout per request)."""

    def __init__(self, heads: Deadlines) -> None:
        self.heads = heads
        self.idle: set[HardenedConnection] = set()
        self.busy: set[HardenedConnection] = set()
        self.stopping = False

    def drain(self, shutdown: process.Shutdown, sleep: Callable[[float], Any]) -> None:
        """Close idle connections now, let busy ones finish (closing after their response)
        within the shutdown timeout, then answer what still runs 503 and close it.

        The caller has stopped accepting already.
        """
        self.stopping = True
        busy = list(self.busy)
        process.going_down(shutdown, len(busy))
        for connection in list(self.idle):
            connection._hang_up()
        for connection in busy:
            connection.close_connection = True
            if connection.on_drain is not None:
                try:
                    connection.on_drain()
                except Exception as error:  # the drain goes on regardless
                    log.warning("%s: on_drain failed: %r", connection.client_address, error)
        while self.busy and shutdown.remaining() > 0:
            sleep(0.05)
        stragglers = list(self.busy)
        for connection in stragglers:
            connection._refuse_straggler()
        process.drained(shutdown, len(busy) - len(stragglers), len(stragglers))


#: A library's server started on `listener` for `app`: (serve until the green thread is
#: killed, stop accepting). Its arguments: app, listener, limits, connections, and
#: whether other workers accept from the listener too (`process.is_shared`: then take
#: `accept_share` connections per wake-up).
Start = Callable[[Callable[..., Any], Any, Limits, Connections, bool],
                 tuple[Callable[[], Any], Callable[[], Any]]]


def serve_function(start: Start, make_socket: Callable[..., Any],
                   backend: Backend) -> Callable[..., None]:
    """A server module's `serve`: the same life around each library's own `start`."""
    sleep = backend.sleep

    def serve(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 6767,
              sock: Any = None, limits: Limits | None = None,
              shutdown: process.Shutdown | None = None) -> None:
        """Serve `app` until `shutdown` is requested, then drain; `limits` default to the app's.

        `sock` is a listening socket to serve from; without it, the supervisor's
        (`BRUBECK_LISTEN_FD`) or one bound on `host:port`. Without `shutdown`, serve
        until the green thread is killed. At most `limits.connections` connections
        are served at once; at the cap the server stops accepting, and new
        connections wait in the listen backlog until one closes (the head timer
        bounds how long an idle one can hold its place).
        """
        limits = server_limits(app, limits)
        connections = Connections(Deadlines(backend, limits.header_timeout))
        listener = sock if sock is not None else listen_socket(host, port, make_socket)
        forever, stop_accepting = start(app, listener, limits, connections,
                                        process.is_shared(listener))
        process.serving()
        if shutdown is None:
            forever()
            return
        try:
            shutdown.wait(sleep)
        finally:
            stop_accepting()  # the supervisor's copy of the socket stays open
        connections.drain(shutdown, sleep)

    return serve


class HardenedConnection:
    """Brubeck's line on one client connection, shared by both servers' handlers.

    Subclasses set `limits` and `connections`, call `_open` and give `_request_line`.
    """

    limits: Limits = DEFAULT_LIMITS
    connections: Connections
    close_connection: Any
    client_address: Any
    path: str
    # the library handler's own, read by `_websocket`
    application: Any
    environ: dict[str, Any]
    rfile: Any
    _head_limit: object = None  # this connection's key in `connections.heads`
    _sock: Any = None
    _sleep: Callable[[float], Any]  # the backend's green sleep
    _served = False  # a request was served on this connection: see _serve_one
    _answering = False  # the app has started its response: too late for a 503
    #: Called when a drain begins while this connection is busy: a WebSocket that
    #: holds it sets one to send its 1001 close ("going away").
    on_drain: Callable[[], Any] | None = None

    def _open(self, sock: Any, sleep: Callable[[float], Any]) -> None:
        """A new connection: no Nagle, and counted among the server's idle connections."""
        set_nodelay(sock)
        self._sock = sock
        self._sleep = sleep
        self.connections.idle.add(self)

    def _closed(self) -> None:
        self.connections.idle.discard(self)
        self.connections.busy.discard(self)

    def _websocket(self) -> bool:
        """Take a WebSocket handshake for a WebSocketHandler route (`servers.websocket`)."""
        try:
            from .websocket import take_upgrade  # wsproto, the websocket extra
        except ImportError:
            return False  # WebSocketHandler.get() answers 501, naming the extra
        self._answering = True  # a drain's 503 must not land in a WebSocket stream
        self.close_connection = take_upgrade(
            self.application, self.environ, self._sock, self.rfile, self.limits,
            connection=self)  # a drain then closes the WebSocket 1001 at once
        return bool(self.close_connection)

    def _response_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The app starts its response; while draining, it says the connection closes."""
        self._answering = True
        if self.connections.stopping and self.close_connection:
            headers = [h for h in headers if h[0].lower() != "connection"]
            headers.append(("Connection", "close"))
        return headers

    def _hang_up(self) -> None:
        """Close an idle connection: its wait for the next request ends quietly (EOF)."""
        self.close_connection = True
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _refuse_straggler(self) -> None:
        """Drain over and still running: 503 if nothing was sent yet, then close."""
        with suppress(OSError):
            if not self._answering:
                self._sock.sendall(STRAGGLER)
            self._sock.shutdown(socket.SHUT_RDWR)

    def _serve_one(self, rfile: Any, serve: Callable[[], Any],
                   refused: Callable[[bytes], Any]) -> Any:
        """Serve one request under the head timer, which runs from accept or the last response.

        A client that connects and sends nothing holds its connection no longer
        than one that trickles. Closed, idle or timed out before a byte: close
        quietly (no 408 to a keep-alive client that may be about to reuse it).

        Each request after the first starts with a turn for the other connections:
        a fast keep-alive client's next request is often in before the response's
        bookkeeping ends, and reading it without yielding kept one connection on the
        CPU while others waited (gevent: 25 to 330 requests per connection in one
        5 s run at 500 connections, p99 4.5x p50; with the turn, 56 to 58, 1.6x;
        docs/benchmarks.rst, tests/servers/test_fairness.py).
        """
        if self._served:
            self._sleep(0)
        self._served = True
        connections = self.connections
        heads = connections.heads
        limit = self._head_limit = heads.start()
        try:
            if not self._starts_request(rfile, limit) or connections.stopping:
                self.close_connection = True
                return None
            connections.idle.discard(self)
            connections.busy.add(self)
            self._answering = False
            return serve()
        except HTTPError as refusal:  # refused while reading the line
            return refused(self._refusal(refusal))
        except Expired as expired:  # the head limit
            if expired.key is not limit:
                raise
            return refused(self._refusal(head_timeout(self.limits)))
        finally:
            heads.cancel(limit)
            connections.busy.discard(self)
            connections.idle.add(self)

    @staticmethod
    def _starts_request(rfile: Any, limit: object) -> bool:
        """Whether a request begins (`starts_request`); False too when the head limit
        passes before its first byte, which closes quietly (no 408)."""
        try:
            return starts_request(rfile)
        except Expired as expired:
            if expired.key is not limit:
                raise
            return False

    def _head_read(self, environ: dict[str, Any]) -> None:
        """The head is in: the app's time is not the client's; keep the target as sent."""
        self.connections.heads.cancel(self._head_limit)
        environ["RAW_URI"] = self.path

    def _request_line(self) -> str:
        raise NotImplementedError

    def _refusal(self, error: HTTPError) -> bytes:
        """The one refusal: a log line, a short response, and the connection closes after."""
        self.close_connection = True
        response = refuse(error, self._request_line(), self.client_address, log)
        return http_bytes(response, "GET")
