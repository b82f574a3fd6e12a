"""Over Mongrel2, answer every client waiting on the same news with one message.

Long-poll clients that asked for the same thing (`since` the same message in
the same room) get byte-identical answers. So when news arrives, the worker
builds that answer once and hands Mongrel2 up to 128 connection ids per ZeroMQ
message (`reply_bulk`), instead of one reply per client. The handlers still
sleep on the room's Event; when they wake, their request is marked answered and
`BulkPollConnection.reply` skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import Message, Room

from brubeck.connections.mongrel2 import Mongrel2Connection
from brubeck.request import Request
from brubeck.response import Response, http_bytes


class BulkPollConnection(Mongrel2Connection):
    """A Mongrel2 connection that does not answer a request twice."""

    def reply(self, request: Request, response: Any) -> None:
        if getattr(request, "answered_in_bulk", False):
            return
        super().reply(request, response)


def adopt(connection: Any) -> BulkPollConnection | None:
    """Make the app's Mongrel2 connection bulk-aware (it only gains `reply`), else None."""
    if not isinstance(connection, Mongrel2Connection):
        return None
    if not isinstance(connection, BulkPollConnection):
        connection.__class__ = BulkPollConnection
    return connection  # type: ignore[return-value]


class BulkReplier:
    """Parked long-poll requests per room and `since`; answers each group in bulk."""

    def __init__(self, connection: BulkPollConnection,
                 answer: Callable[[Room, list[Message], bool], Response]) -> None:
        self.connection = connection
        self.answer = answer
        # room name -> since -> request (the requests carry sender and conn_id)
        self.parked: dict[str, dict[int, set[Request]]] = {}
        self.sent_messages = 0  # ZeroMQ messages sent, for the curious and the tests

    def watch(self, room: Room) -> None:
        if self.on_news not in room.listeners:
            room.listeners.append(self.on_news)

    def park(self, room: Room, since: int, request: Request) -> None:
        self.watch(room)
        self.parked.setdefault(room.name, {}).setdefault(since, set()).add(request)

    def unpark(self, room: Room, since: int, request: Request) -> None:
        group = self.parked.get(room.name, {}).get(since)
        if group is not None:
            group.discard(request)

    def on_news(self, room: Room) -> None:
        for since, requests in self.parked.pop(room.name, {}).items():
            if not requests:
                continue
            found, reset = room.after(since)
            data = http_bytes(self.answer(room, found, reset), "GET")
            by_sender: dict[str, list[str]] = {}
            for request in requests:
                request.answered_in_bulk = True  # type: ignore[attr-defined]
                by_sender.setdefault(request.sender or "", []).append(request.conn_id or "")
            for sender, idents in by_sender.items():
                self.connection.reply_bulk(sender, idents, data)
                self.sent_messages += (len(idents) + 127) // 128
