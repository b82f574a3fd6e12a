"""What both hardened WSGI servers add to their library's connection handler, written once.

gevent.pywsgi and eventlet.wsgi differ in names and hooks, not in what Brubeck
needs from them: TCP_NODELAY on each accepted socket, a head timer that runs
from accept (or the previous response) until the head is in, the target as
sent in `RAW_URI`, one refusal (log line, short response, close), a cap on
open connections and a listen socket with a deep backlog that never shares
its port. `HardenedConnection` holds those; each server's subclass only maps
its library's hooks onto them.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from ..errors import HTTPError
from ..limits import DEFAULT_LIMITS, LISTEN_BACKLOG, Limits
from ..response import http_bytes, refuse
from .http import head_timeout, starts_request

log = logging.getLogger("brubeck.wsgi")


def set_nodelay(sock: Any) -> None:
    """Responses go out in one write; Nagle would hold keep-alive replies back."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def listen_socket(host: str, port: int, make_socket: Callable[..., Any]) -> Any:
    """A listening socket from the backend's green `make_socket`.

    Backlog `LISTEN_BACKLOG` (the libraries' 50 or 128 overflowed at 500
    simultaneous connects, and SYN retries made a multi-second tail), and not
    SO_REUSEPORT: a second server on a taken port must fail, not share it.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)[0]
    sock = make_socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def server_limits(app: Callable[..., Any], limits: Limits | None) -> Limits:
    """The limits to serve with: the given ones, else the app's own, else the defaults."""
    return limits or getattr(app, "limits", None) or DEFAULT_LIMITS


class HardenedConnection:
    """Brubeck's line on one client connection, shared by both servers' handlers.

    Subclasses set `limits`, create `_head_timer` (a backend Timeout raising
    `head_timeout(limits)`, not started) in `_open`, and give `_request_line`.
    """

    limits: Limits = DEFAULT_LIMITS
    close_connection: Any
    client_address: Any
    path: str
    _head_timer: Any = None

    def _open(self, sock: Any, timer: Callable[[float, BaseException], Any]) -> None:
        """A new connection: no Nagle, and the head timer it keeps for every request."""
        set_nodelay(sock)
        self._head_timer = timer(self.limits.header_timeout, head_timeout(self.limits))

    def _serve_one(self, rfile: Any, serve: Callable[[], Any],
                   refused: Callable[[bytes], Any]) -> Any:
        """Serve one request under the head timer, which runs from accept or the last response.

        A client that connects and sends nothing holds its connection no longer
        than one that trickles. Closed, idle or timed out before a byte: close
        quietly (no 408 to a keep-alive client that may be about to reuse it).
        """
        timer = self._head_timer
        timer.start()
        try:
            if not starts_request(rfile):
                self.close_connection = True
                return None
            return serve()
        except HTTPError as refusal:  # the head timer, or a refusal while reading the line
            return refused(self._refusal(refusal))
        finally:
            timer.cancel()

    def _head_read(self, environ: dict[str, Any]) -> None:
        """The head is in: the app's time is not the client's; keep the target as sent."""
        self._head_timer.cancel()
        environ["RAW_URI"] = self.path

    def _request_line(self) -> str:
        raise NotImplementedError

    def _refusal(self, error: HTTPError) -> bytes:
        """The one refusal: a log line, a short response, and the connection closes after."""
        self.close_connection = True
        response = refuse(error, self._request_line(), self.client_address, log)
        return http_bytes(response, "GET")
