"""Chat rooms: history, waiting for news, and how a message reaches every process.

A waiting client costs one green Event wait, not a thread: each room has one
Event, replaced (and the old one set) whenever a message arrives, so hundreds
of waiters wake together and find the news in the room's history.

Two buses carry posts: `LocalBus` when the app is one process, `RedisBus`
when several workers (behind Mongrel2) must see each other's posts. With Redis
a Lua script numbers, stores and publishes a message in one atomic step, so
every worker receives messages in id order and none is skipped.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from brubeck import concurrency

log = logging.getLogger("chat")

HISTORY = 200
ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
NICK = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")
MAX_TEXT = 500

Message = dict[str, Any]


class Room:
    """One room's recent messages and the clients waiting for the next one."""

    def __init__(self, name: str, history: list[Message] = ()) -> None:  # type: ignore[assignment]
        self.name = name
        self.messages: deque[Message] = deque(history, maxlen=HISTORY)
        self.news = concurrency.active().Event()
        #: Called with the room when a message arrives, before waiters wake
        #: (the Mongrel2 bulk replier answers its parked clients there).
        self.listeners: list[Callable[[Room], None]] = []
        self.waiting = 0  # clients asleep in wait(), for /stats

    @property
    def last_id(self) -> int:
        return self.messages[-1]["id"] if self.messages else 0

    def add(self, message: Message) -> None:
        """Keep `message` (unless seen already) and wake everyone waiting."""
        if message["id"] <= self.last_id:
            return
        self.messages.append(message)
        for listener in self.listeners:
            try:
                listener(self)
            except Exception:
                log.exception("room listener failed")
        news, self.news = self.news, concurrency.active().Event()
        news.set()

    def after(self, since: int) -> tuple[list[Message], bool]:
        """Messages newer than `since`, and whether the client must start over.

        A `since` beyond the newest id means the server lost its history (a
        restart without Redis): the client gets everything and a reset.
        """
        if since > self.last_id:
            return list(self.messages), True
        return [m for m in self.messages if m["id"] > since], False

    def wait(self, since: int, timeout: float) -> tuple[list[Message], bool]:
        """Sleep until there is a message newer than `since`, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            found, reset = self.after(since)
            remaining = deadline - time.monotonic()
            if found or reset or remaining <= 0:
                return found, reset
            self.waiting += 1
            try:
                self.news.wait(remaining)
            finally:
                self.waiting -= 1


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


class LocalBus:
    """One process: messages are numbered and kept in memory."""

    name = "local"

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}

    def room(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = self._open(name)
        return room

    def _open(self, name: str) -> Room:
        return Room(name)

    def room_names(self) -> list[str]:
        return sorted(self.rooms)

    def post(self, room_name: str, nick: str, text: str) -> Message:
        room = self.room(room_name)
        message = {"id": room.last_id + 1, "room": room_name, "nick": nick, "text": text,
                   "time": int(time.time() * 1000)}
        room.add(message)
        return message

    def start(self) -> None:
        """Nothing to listen to in one process."""


# Number, store and publish in one step: every subscriber sees ids in order.
_POST_SCRIPT = """
local id = redis.call('INCR', KEYS[1])
local message = cjson.decode(ARGV[1])
message['id'] = id
local encoded = cjson.encode(message)
redis.call('RPUSH', KEYS[2], encoded)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('SADD', KEYS[3], message['room'])
redis.call('PUBLISH', KEYS[4], encoded)
return encoded
"""


class RedisBus(LocalBus):
    """Many processes: Redis numbers, keeps and broadcasts messages (pub/sub)."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "chat") -> None:
        super().__init__()
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.channel = f"{prefix}:messages"
        self._post = self.redis.register_script(_POST_SCRIPT)
        self._listening = concurrency.active().Event()

    def _open(self, name: str) -> Room:
        stored = self.redis.lrange(f"{self.prefix}:room:{name}:history", 0, -1)
        return Room(name, [json.loads(m) for m in stored])

    def room_names(self) -> list[str]:
        return sorted(self.redis.smembers(f"{self.prefix}:rooms") | set(self.rooms))

    def post(self, room_name: str, nick: str, text: str) -> Message:
        message = {"room": room_name, "nick": nick, "text": text,
                   "time": int(time.time() * 1000)}
        keys = [f"{self.prefix}:room:{room_name}:seq", f"{self.prefix}:room:{room_name}:history",
                f"{self.prefix}:rooms", self.channel]
        stored = json.loads(self._post(keys=keys, args=[json.dumps(message), HISTORY]))
        room = self.room(room_name)
        if stored["id"] == room.last_id + 1:  # ours at once, unless that would skip one
            room.add(stored)                  # still on its way; the echo is ignored
        return stored

    def start(self) -> None:
        """Listen for every worker's messages in a green thread; wait until subscribed."""
        self._listener = concurrency.active().spawn(self._listen_forever)
        if not self._listening.wait(10):
            raise RuntimeError("could not subscribe to Redis")

    def stop(self) -> None:
        """Stop listening (a worker shutting down, or a test)."""
        listener = getattr(self, "_listener", None)
        if listener is not None:
            listener.kill()
            self._listener = None

    def _listen_forever(self) -> None:
        backend = concurrency.active()
        while True:
            try:
                self._listen()
            except Exception:
                log.exception("Redis subscription lost; retrying in 1s")
                backend.sleep(1)

    def _listen(self) -> None:
        pubsub = self.redis.pubsub()
        pubsub.subscribe(self.channel)
        for item in pubsub.listen():
            if item["type"] == "subscribe":
                # Rooms already open may have missed messages while we were away.
                for name, room in list(self.rooms.items()):
                    for message in self._open(name).messages:
                        room.add(message)
                self._listening.set()
            elif item["type"] == "message":
                message = json.loads(item["data"])
                self.room(message["room"]).add(message)


def open_bus(redis_url: str | None) -> LocalBus:
    return RedisBus(redis_url) if redis_url else LocalBus()
