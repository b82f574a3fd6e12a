"""Chat rooms on brubeck.pubsub: each room is a channel, each message one published item.

A room's history is what its channel keeps (the newest 200 messages). A
client waiting for news sleeps in `bus.wait`: one green wait, woken together
with every other waiter by the bus's one reader, whichever worker the message
was posted on. A client that comes back with the id of the last message it saw
gets everything after it; if that is no longer kept (or the id is from a history
that was lost), it gets the room's history and starts over (`reset`).

With ``memory://`` the rooms live in this process; with ``redis://`` every
worker (on any host) shares them through Redis Streams.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from brubeck import pubsub

HISTORY = 200
ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
NICK = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")
MAX_TEXT = 500
CHANNEL = "chat:"  # room NAME is channel chat:NAME

Message = dict[str, Any]


def decode(message: pubsub.Message) -> Message:
    """A chat message as the pages and the JSON API show it: id, room, nick, text, time."""
    return {**json.loads(message.data), "id": message.id,
            "room": message.channel.removeprefix(CHANNEL)}


class Room:
    """One room: its channel's history, and waiting for what comes after an id."""

    def __init__(self, bus: pubsub.Bus, name: str) -> None:
        self.bus = bus
        self.name = name
        self.channel = CHANNEL + name

    @property
    def last_id(self) -> str:
        return self.bus.last_id(self.channel)

    @property
    def messages(self) -> list[Message]:
        return [decode(m) for m in self.bus.history(self.channel, HISTORY)]

    @property
    def waiting(self) -> int:
        """Clients asleep in `wait` in this worker, for /stats."""
        return self.bus.waiting(self.channel)

    def after(self, since: str) -> tuple[list[Message], bool]:
        """Messages newer than `since` now, and whether the client must start over."""
        return self.wait(since, 0)

    def wait(self, since: str, timeout: float) -> tuple[list[Message], bool]:
        """Sleep until there is a message newer than `since`, or `timeout` passes."""
        try:
            return [decode(m) for m in self.bus.wait(self.channel, since, timeout)], False
        except pubsub.Gap:
            return self.messages, True


def check_message(nick: Any, text: Any) -> tuple[str, str]:
    """A valid (nick, text), or ValueError saying what is wrong."""
    if not isinstance(nick, str) or not NICK.match(nick):
        raise ValueError("nick: 1-20 letters, digits, '.', '_' or '-'")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text: say something")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"text: at most {MAX_TEXT} characters")
    return nick, text


class Rooms:
    """The chat's rooms on one bus (the app's `db_conn`)."""

    def __init__(self, bus: pubsub.Bus) -> None:
        self.bus = bus
        self.name = bus.url.split("://")[0]  # "memory" or "redis", for /stats
        self.rooms: dict[str, Room] = {}

    def room(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(self.bus, name)
        return room

    def room_names(self) -> list[str]:
        return sorted(name.removeprefix(CHANNEL) for name in self.bus.channels()
                      if name.startswith(CHANNEL))

    def post(self, room_name: str, nick: str, text: str) -> Message:
        data = json.dumps({"nick": nick, "text": text, "time": int(time.time() * 1000)})
        message_id = self.bus.publish(CHANNEL + room_name, data)
        return decode(pubsub.Message(CHANNEL + room_name, message_id, data))

    def close(self) -> None:
        self.bus.close()


def open_rooms(url: str | None) -> Rooms:
    """Rooms on ``url`` (``redis://...``), else in this process."""
    return Rooms(pubsub.connect(url or "memory://", maxlen=HISTORY))
