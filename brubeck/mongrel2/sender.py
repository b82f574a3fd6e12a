"""The send API of a Mongrel2 worker: raw bytes, whole responses, bulk replies, closes.

Mongrel2 never parses a reply: each is a complete HTTP message framed for up
to 128 connection ids (`wire.frame`), published on the worker's PUB socket.
An empty body tells Mongrel2 to close those connections.

Behind a dispatcher each send says whether it is final: a final one ends the
request it answers (the dispatcher stops holding the connection for this
worker); streamed chunks, WebSocket frames and the 101 handshake reply are
not final, and a close always is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ..request import Request
from ..response import Response, http_bytes
from ..streaming import ClientDisconnected, StreamingResponse, chunk, head_bytes
from . import wire

log = logging.getLogger("brubeck.mongrel2")

FINAL, PART = b"F", b"S"  # a dispatcher's verbs for a final and a non-final send


class ReplySender:
    """Replies to Mongrel2's clients over the PUB socket in `_pub` (None when not running)."""

    _pub: Any = None
    _dispatched = False  # True when `_pub` is a DEALER to a dispatcher

    def send(self, uuid: str, conn_id: str, data: bytes, final: bool = True) -> None:
        """Send raw bytes to one connection (an empty `data` closes it).

        `final=False` for a part of a longer answer (a stream, WebSocket frames).
        """
        self._publish(wire.frame(uuid, [conn_id], data), final or not data)

    def reply(self, request: Request, response: Response | bytes | str) -> None:
        """Send a response to the request's client in one message."""
        data = http_bytes(response, request.method) if isinstance(response, Response) \
            else response
        if isinstance(data, str):
            data = data.encode("utf-8")
        client = wire.client_of(request)
        closing = _should_close(request, response)
        self.send(client.sender, client.conn_id, data, final=not closing)
        if closing:
            self.close(request)

    def reply_bulk(self, uuid: str, idents: Iterable[str], data: bytes | str,
                   final: bool = True) -> None:
        """Send the same bytes to many connections, 128 ids per message
        (`final=False` for a broadcast to streams or WebSockets)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        for batch in wire.chunks(idents):
            self._publish(wire.frame(uuid, batch, payload), final or not payload)

    def reply_many(self, requests: Iterable[Request], response: Response) -> int:
        """Answer many requests with one response, serialized once and sent in bulk.

        Each request is marked answered, so its own handler's return value is
        not sent again. Returns the number of ZeroMQ messages sent.
        """
        by_sender: dict[str, list[str]] = {}
        method = "GET"
        for request in requests:
            client = wire.client_of(request)
            client.answered = True
            method = request.method
            by_sender.setdefault(client.sender, []).append(client.conn_id)
        data = http_bytes(response, method)
        sent = 0
        for sender, idents in by_sender.items():
            self.reply_bulk(sender, idents, data)
            sent += (len(idents) + wire.MAX_TARGETS - 1) // wire.MAX_TARGETS
        return sent

    def close(self, request: Request) -> None:
        """Close the client connection of `request`."""
        client = wire.client_of(request)
        self.send(client.sender, client.conn_id, b"")

    def close_bulk(self, uuid: str, idents: Iterable[str]) -> None:
        """Close many connections, 128 ids per message."""
        self.reply_bulk(uuid, idents, b"")

    def _publish(self, frame: bytes, final: bool = True) -> None:
        if self._pub is None:  # after shutdown, or before run()
            log.warning("Mongrel2Connection is not running: reply dropped")
            return
        if self._dispatched:
            self._pub.send_multipart((FINAL if final else PART, frame))
        else:
            self._pub.send(frame)


class StreamSink:
    """A streamed response to one Mongrel2 connection (`brubeck.streaming.Sink`).

    The head and each chunk are non-final sends, the end is final. HTTP/1.1
    gets a chunked body, so the connection lives on; HTTP/1.0 (or a request
    or response saying `Connection: close`) a body ended by closing.
    """

    __slots__ = ("body", "chunked", "client", "sender")

    def __init__(self, sender: ReplySender, request: Request, response: StreamingResponse) -> None:
        self.sender = sender
        self.client = wire.client_of(request)
        self.body = response.has_body(request.method)
        self.chunked = request.version != "HTTP/1.0" and not _should_close(request, response)
        framing = ("Transfer-Encoding", "chunked") if self.chunked else ("Connection", "close")
        head = head_bytes(response, request.method, framing)  # ValueError: refused, nothing sent
        sender.send(self.client.sender, self.client.conn_id, head, final=False)
        vars(self.client)["streaming"] = True  # too late for a 503 (see _abandon)

    def send(self, data: bytes) -> None:
        if self.client.is_disconnected():
            raise ClientDisconnected()
        if self.body and data:
            self.sender.send(self.client.sender, self.client.conn_id,
                             chunk(data) if self.chunked else data, final=False)

    def end(self) -> None:
        """The last chunk (final), or the close that ends the body."""
        if self.client.is_disconnected():
            return
        if self.chunked and self.body:
            self.sender.send(self.client.sender, self.client.conn_id, chunk(b""))
        else:
            self.abort()

    def abort(self) -> None:
        """Close the connection: a body cut short, or one delimited by the close."""
        self.sender.send(self.client.sender, self.client.conn_id, b"")


def _should_close(request: Request, response: Any) -> bool:
    """Mongrel2 keeps connections alive unless told; honour `Connection: close` and 1.0."""
    if isinstance(response, Response) \
            and (response.get_header("Connection") or "").lower() == "close":
        return True
    if request.version == "HTTP/1.0":
        return "keep-alive" not in request.headers.get("connection", "").lower()
    return False
