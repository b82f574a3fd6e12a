"""Publish/subscribe for handlers, across workers and hosts.

A handler that sleeps until something happens elsewhere (a long poll, a
WebSocket, a chat room) needs the news of every worker process. A bus carries
it: `publish(channel, data)` appends a message to the channel's stream and
returns its id; `wait(channel, after, timeout)` returns what came after an id,
sleeping (green) until something does. Ids are ordered ``"MS-SEQ"`` strings, so
a client that remembers the last id it saw loses nothing across reconnects and
worker restarts while the stream still keeps the messages. When it no longer
does (trimmed to `maxlen`, or the history was lost), `Gap` is raised rather
than a silent hole.

Each process follows its channels once and fans messages out from a local
buffer to its waiters (for Redis, one blocking XREAD for all channels), so a
thousand sleeping clients cost a thousand green waits, not a thousand reads.

Backends, by URL: ``memory://`` (one process; tests) and ``redis://`` (Redis
Streams, redis-py). `connect(url)` makes a bus; the module functions use the
process-wide one from `configure(url)`, else ``BRUBECK_PUBSUB_URL`` (the
``pubsub_url`` setting), else ``memory://``.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import concurrency
from ..concurrency import GreenEvent

log = logging.getLogger("brubeck.pubsub")

#: URL scheme -> "module:class" of the bus; the module imports its library at its top.
BACKENDS = {
    "memory": "brubeck.pubsub.memory:MemoryBus",
    "redis": "brubeck.pubsub.redis:RedisBus",
    "rediss": "brubeck.pubsub.redis:RedisBus",
    "unix": "brubeck.pubsub.redis:RedisBus",
}
ENV_VAR = "BRUBECK_PUBSUB_URL"
DEFAULT_URL = "memory://"
DEFAULT_MAXLEN = 1000
#: Channels nobody has used for this long are no longer followed (their buffer is freed).
IDLE_SECONDS = 300.0

StreamId = tuple[int, int]
ZERO: StreamId = (0, 0)


def parse_id(text: str) -> StreamId:
    """``"MS-SEQ"`` (or ``"MS"``) as a comparable pair; ValueError for anything else."""
    ms, dash, seq = text.partition("-")
    if not _digits(ms) or (dash and not _digits(seq)):
        raise ValueError(f"not a message id: {text[:40]!r} (expected MS-SEQ)")
    return int(ms), int(seq) if dash else 0


def _digits(text: str) -> bool:
    return 0 < len(text) <= 20 and text.isascii() and text.isdigit()


def format_id(key: StreamId) -> str:
    return f"{key[0]}-{key[1]}"


@dataclass(frozen=True, slots=True)
class Message:
    """One published message: its channel, its id (``"MS-SEQ"``) and its text."""

    channel: str
    id: str
    data: str


class Gap(Exception):
    """Messages after `after` are gone: trimmed to `maxlen`, or the stream's history was lost.

    `resume` is the position from which what is still kept can be read; a
    `Subscription` continues from there after raising this once.
    """

    def __init__(self, channel: str, after: str, resume: str) -> None:
        super().__init__(f"messages of {channel!r} after {after} are no longer kept "
                         f"(reading resumes after {resume})")
        self.channel = channel
        self.after = after
        self.resume = resume


Entry = tuple[StreamId, Message]


class Channel:
    """This process's view of one channel: recent messages, waiters and watchers."""

    def __init__(self, name: str, maxlen: int) -> None:
        self.name = name
        self.buffer: deque[Entry] = deque(maxlen=maxlen)
        self.last: StreamId = ZERO           # newest id seen here
        self.complete_from: StreamId = ZERO  # the buffer holds every message after this id
        self.trimmed: StreamId = ZERO        # messages up to this id may be gone from the store
        self.promised: StreamId = ZERO       # the store has ids up to here (maybe not read yet)
        self.asking: GreenEvent | None = None  # set when the store has answered `promised`
        self.loading: GreenEvent | None = None  # set once `Bus._load` has filled the buffer
        self.news = concurrency.active().Event()
        self.watchers: list[Callable[[Message], None]] = []
        self.users = 0                       # waits and subscriptions in progress
        self.used = time.monotonic()

    def deliver(self, entries: list[Entry]) -> None:
        """Keep the entries newer than `last`, tell the watchers, then wake the waiters."""
        fresh = []
        for key, message in entries:
            if key <= self.last:
                continue
            if len(self.buffer) == self.buffer.maxlen:
                self.complete_from = self.buffer[0][0]
            self.buffer.append((key, message))
            self.last = key
            fresh.append(message)
        if not fresh:
            return
        for message in fresh:
            for watcher in list(self.watchers):
                try:
                    watcher(message)
                except Exception:
                    log.exception("pubsub watcher of %r failed", self.name)
        news, self.news = self.news, concurrency.active().Event()
        news.set()

    def buffered_after(self, key: StreamId) -> list[Message]:
        """The buffered messages after `key` (the caller checked the buffer reaches it)."""
        found = []
        for entry_key, message in reversed(self.buffer):
            if entry_key <= key:
                break
            found.append(message)
        found.reverse()
        return found

    def idle(self, now: float) -> bool:
        return not self.users and not self.watchers and now - self.used > IDLE_SECONDS


class Bus:
    """The local half of every backend: followed channels, their buffers, waiters, watchers.

    A backend carries messages between processes: it implements `publish`,
    `channels`, `_load` (a channel's recent history, when first followed) and,
    if its store can hold more than the buffer, `_fetch` and `_store_last`.
    """

    url = ""  # where it connects, as given (without the bus's own options)

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise ValueError(f"maxlen must be a positive int, got {maxlen!r}")
        self.maxlen = maxlen
        self._channels: dict[str, Channel] = {}
        self._pid = os.getpid()

    # -- what a backend provides -------------------------------------------------------

    def publish(self, channel: str, data: str) -> str:
        """Append `data` to `channel` and wake its subscribers everywhere; returns its id."""
        raise NotImplementedError

    def channels(self) -> list[str]:
        """Names of the channels that have had messages, sorted."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop following channels (a shutting-down worker, a test)."""
        self._channels.clear()

    def _load(self, channel: Channel) -> None:
        """Fill a newly followed channel's buffer and marks from the store."""

    def _followed(self, channel: Channel) -> None:
        """A channel was added to those this process follows."""

    def _fetch(self, channel: Channel, after: StreamId) -> list[Message]:
        """Messages after `after` that the buffer does not reach back to; Gap if gone."""
        raise Gap(channel.name, format_id(after), format_id(channel.complete_from))

    def _store_last(self, channel: Channel) -> StreamId:
        """The newest id the store has given out for `channel` (the buffer's, in memory)."""
        return channel.last

    # -- the API -----------------------------------------------------------------------

    def wait(self, channel: str, after: str | None = None,
             timeout: float | None = None) -> list[Message]:
        """The messages of `channel` after id `after`, sleeping until there is one.

        `after=None` means "from now on". Returns ``[]`` once `timeout` seconds
        pass without news (`timeout=0` never sleeps). Raises `Gap` when messages
        after `after` are no longer kept.
        """
        followed = self._channel(channel)
        key = followed.last if after is None else parse_id(after)
        deadline = None if timeout is None else time.monotonic() + timeout
        followed.users += 1
        try:
            while True:
                found = self._after(followed, key)
                remaining = None if deadline is None else deadline - time.monotonic()
                if found or (remaining is not None and remaining <= 0):
                    return found
                followed.news.wait(remaining)
        finally:
            followed.users -= 1
            followed.used = time.monotonic()

    def subscribe(self, channel: str, after: str | None = None) -> Subscription:
        """A feed of `channel`'s messages after `after` (None: from now on), one at a time."""
        followed = self._channel(channel)
        return Subscription(self, channel, format_id(followed.last) if after is None else after)

    def history(self, channel: str, count: int | None = None) -> list[Message]:
        """The newest `count` kept messages of `channel` (at most `maxlen`), oldest first."""
        buffer = self._channel(channel).buffer
        count = len(buffer) if count is None else max(0, min(count, len(buffer)))
        return [message for _key, message in list(buffer)[len(buffer) - count:]]

    def last_id(self, channel: str) -> str:
        """The id of the newest message of `channel` this process has seen (``"0-0"``: none)."""
        return format_id(self._channel(channel).last)

    def watch(self, channel: str, callback: Callable[[Message], None]) -> Callable[[], None]:
        """Call `callback(message)` for each new message, before waiters wake.

        It runs in the bus's reader (or the publisher's) green thread: keep it
        short and do not block. Returns a function that stops the watching.
        """
        followed = self._channel(channel)
        followed.watchers.append(callback)

        def unwatch() -> None:
            if callback in followed.watchers:
                followed.watchers.remove(callback)
        return unwatch

    def waiting(self, channel: str) -> int:
        """Waits and subscriptions in progress on `channel` in this process."""
        followed = self._channels.get(channel)
        return followed.users if followed is not None else 0

    # -- the local half ----------------------------------------------------------------

    def _channel(self, name: str) -> Channel:
        if os.getpid() != self._pid:  # a forked worker follows its own channels
            self._forked()
        found = self._channels.get(name)
        if found is None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"a channel is a non-empty str, got {name!r}")
            found = self._channels[name] = Channel(name, self.maxlen)
            loading = found.loading = concurrency.active().Event()
            try:  # may do I/O: whoever comes meanwhile waits for this one channel
                self._load(found)
            except BaseException:
                del self._channels[name]
                raise
            finally:
                found.loading = None
                loading.set()
            self._followed(found)
        elif found.loading is not None:
            found.loading.wait(30)
            if found.loading is not None or name not in self._channels:
                raise RuntimeError(f"pubsub: channel {name!r} could not be loaded")
        found.used = time.monotonic()
        return found

    def _forked(self) -> None:
        self._pid = os.getpid()
        self._channels = {}

    def _after(self, channel: Channel, key: StreamId) -> list[Message]:
        """Messages after `key`: from the buffer, else from the store; Gap if gone."""
        if key >= channel.last:
            if key > channel.last and key > channel.promised:
                self._ask_store(channel)
                if key > channel.promised:  # an id this stream never gave out
                    raise Gap(channel.name, format_id(key), format_id(channel.promised))
            return []
        if key < channel.trimmed:
            raise Gap(channel.name, format_id(key), format_id(channel.trimmed))
        if key >= channel.complete_from:
            return channel.buffered_after(key)
        return self._fetch(channel, key)

    def _ask_store(self, channel: Channel) -> None:
        """Update `promised` from the store: one question at a time, the others wait for it.

        (A message just published on another worker, not read here yet, is
        behind the id of every client that already saw it: hundreds may ask.)
        """
        if channel.asking is not None:
            channel.asking.wait(30)
            return
        channel.asking = concurrency.active().Event()
        try:
            channel.promised = max(channel.promised, self._store_last(channel))
        finally:
            asked, channel.asking = channel.asking, None
            asked.set()

    def _idle_channels(self) -> list[Channel]:
        now = time.monotonic()
        return [channel for channel in self._channels.values() if channel.idle(now)]


class Subscription:
    """One channel's messages after a position, one at a time (a WebSocket's feed).

    `get()` raises `Gap` once if messages after the position are gone, then
    continues with what is kept. Use it as a context manager or call `close()`.
    """

    def __init__(self, bus: Bus, channel: str, after: str) -> None:
        parse_id(after)
        self.bus = bus
        self.channel = channel
        self.position = after
        self._pending: deque[Message] = deque()
        self._followed = bus._channel(channel)
        self._followed.users += 1
        self.closed = False

    def get(self, timeout: float | None = None) -> Message | None:
        """The next message, waiting up to `timeout` seconds (None: forever); None on timeout."""
        if not self._pending:
            try:
                self._pending.extend(self.bus.wait(self.channel, self.position, timeout))
            except Gap as gap:
                self.position = gap.resume
                raise
        if not self._pending:
            return None
        message = self._pending.popleft()
        self.position = message.id
        return message

    def __iter__(self) -> Iterator[Message]:
        while not self.closed:
            message = self.get()
            if message is not None:
                yield message

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._followed.users -= 1

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def connect(url: str = DEFAULT_URL, **options: Any) -> Bus:
    """A bus for `url`: ``memory://`` or ``redis://HOST:PORT/DB``.

    ``?maxlen=N`` in the URL (or `maxlen=N`) keeps N messages a channel (1000 by
    default); other options go to the backend.
    """
    parts = urlsplit(url)
    target = BACKENDS.get(parts.scheme)
    if target is None:
        raise ValueError(f"unknown pubsub URL scheme in {url!r}; use one of "
                         f"{', '.join(s + '://' for s in BACKENDS)}")
    ours = {"maxlen"}
    query = parse_qsl(parts.query, keep_blank_values=True)
    for name, value in query:
        if name in ours:
            if not _digits(value):
                raise ValueError(f"pubsub URL: {name} must be a positive integer, got {value!r}")
            options.setdefault(name, int(value))
    rest = "&".join(f"{k}={v}" for k, v in query if k not in ours)
    module, _, cls = target.partition(":")
    bus_class = getattr(importlib.import_module(module), cls)
    bus: Bus = bus_class(url.split("?", 1)[0] + (f"?{rest}" if rest else ""), **options)
    return bus


_default: Bus | None = None


def configure(url: str | None = None, **options: Any) -> Bus:
    """Make the process-wide bus from `url`, else ``BRUBECK_PUBSUB_URL``, else memory."""
    global _default
    if _default is not None:
        _default.close()
    _default = connect(url or os.environ.get(ENV_VAR) or DEFAULT_URL, **options)
    return _default


def default() -> Bus:
    """The process-wide bus, configured on first use."""
    return _default if _default is not None else configure()


def publish(channel: str, data: str) -> str:
    """`Bus.publish` on the process-wide bus."""
    return default().publish(channel, data)


def wait(channel: str, after: str | None = None, timeout: float | None = None) -> list[Message]:
    """`Bus.wait` on the process-wide bus."""
    return default().wait(channel, after, timeout)


def subscribe(channel: str, after: str | None = None) -> Subscription:
    """`Bus.subscribe` on the process-wide bus."""
    return default().subscribe(channel, after)


def history(channel: str, count: int | None = None) -> list[Message]:
    """`Bus.history` on the process-wide bus."""
    return default().history(channel, count)


def watch(channel: str, callback: Callable[[Message], None]) -> Callable[[], None]:
    """`Bus.watch` on the process-wide bus."""
    return default().watch(channel, callback)
