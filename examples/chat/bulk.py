"""Over Mongrel2, answer every client waiting on the same news with one message.

Long-poll clients that asked for the same thing (`since` the same message in
the same room) get byte-identical answers. So when news arrives, the worker
builds that answer once and hands Mongrel2 up to 128 connection ids per ZeroMQ
message (`reply_bulk`), instead of one reply per client. The handlers still
sleep on the room's Event; when they wake, their request is already marked
answered (`reply_many` does it), so the connection does not answer it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import Message, Room

from brubeck.mongrel2 import Mongrel2Connection
from brubeck.request import Request
from brubeck.response import Response


def adopt(connection: Any) -> Mongrel2Connection | None:
    """The app's connection if it is Mongrel2 (bulk replies need it), else None."""
    return connection if isinstance(connection, Mongrel2Connection) else None


class BulkReplier:
    """Parked long-poll requests per room and `since`; answers each group in bulk."""

    def __init__(self, connection: Mongrel2Connection,
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
            self.sent_messages += self.connection.reply_many(
                requests, self.answer(room, found, reset))
