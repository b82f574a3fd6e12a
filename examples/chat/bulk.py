"""Over Mongrel2, answer every client waiting on the same news with one message.

Long-poll clients that asked for the same thing (`since` the same message in
the same room) get byte-identical answers. So when news arrives (a pubsub
watcher, called before the sleeping handlers wake), the worker builds that
answer once and hands Mongrel2 up to 128 connection ids per ZeroMQ message
(`reply_bulk`), instead of one reply per client. The handlers still sleep in the
bus's wait; when they wake, their request is already marked answered
(`reply_many` does it), so the connection does not answer it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import CHANNEL, Message, Room

from brubeck.mongrel2 import Mongrel2Connection
from brubeck.pubsub import Message as Published
from brubeck.request import Request
from brubeck.response import Response


def adopt(connection: Any) -> Mongrel2Connection | None:
    """The app's connection if it is Mongrel2 (bulk replies need it), else None."""
    return connection if isinstance(connection, Mongrel2Connection) else None


class BulkReplier:
    """Parked long-poll requests per room and `since`; answers each group in bulk."""

    def __init__(self, connection: Mongrel2Connection,
                 answer: Callable[[Room, list[Message], bool, str], Response]) -> None:
        self.connection = connection
        self.answer = answer
        # room name -> since -> request (the requests carry sender and conn_id)
        self.parked: dict[str, dict[str, set[Request]]] = {}
        self.watched: dict[str, Room] = {}
        self.sent_messages = 0  # ZeroMQ messages sent, for the curious and the tests

    def watch(self, room: Room) -> None:
        if room.name not in self.watched:
            self.watched[room.name] = room
            room.bus.watch(room.channel, self.on_news)

    def park(self, room: Room, since: str, request: Request) -> None:
        self.watch(room)
        self.parked.setdefault(room.name, {}).setdefault(since, set()).add(request)

    def unpark(self, room: Room, since: str, request: Request) -> None:
        group = self.parked.get(room.name, {}).get(since)
        if group is not None:
            group.discard(request)

    def on_news(self, message: Published) -> None:
        room = self.watched[message.channel.removeprefix(CHANNEL)]
        for since, requests in self.parked.pop(room.name, {}).items():
            if not requests:
                continue
            found, reset = room.after(since)
            self.sent_messages += self.connection.reply_many(
                requests, self.answer(room, found, reset, since))
