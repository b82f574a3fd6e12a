"""The Redis bus: one stream per channel, one blocking XREAD per process for all of them.

`publish` is XADD with an exact MAXLEN (so every process's buffer and the stream
agree on what is kept) plus SADD to the set of channel names, in one round trip.
A reader green thread per bus blocks in XREAD on every followed channel from
its last id and hands what arrives to the local waiters; when a channel is
added, CLIENT UNBLOCK wakes the reader so that its next XREAD includes it.
Positions are ids, so a reconnecting reader (or worker) reads on from where it
was: nothing published meanwhile is skipped.

redis-py's sockets are the backend's green sockets once it has monkey-patched
the process (`concurrency.select()`), so waiting here never blocks the loop.
"""

from __future__ import annotations

from typing import Any

import redis

from .. import concurrency
from . import Bus, Channel, Entry, Gap, Message, StreamId, format_id, log, parse_id

#: Most messages one XREAD returns per channel; more wait for the next read.
READ_COUNT = 1000
MAX_SEQ = 2**64 - 1


def _optional_id(info: dict[str, Any] | None, field: str) -> StreamId:
    value = (info or {}).get(field)
    return parse_id(value) if isinstance(value, str) else (0, 0)


def _trimmed(info: dict[str, Any], maxlen: int) -> StreamId:
    """The newest id that may have been removed from the stream (by trimming or XDEL).

    Redis records the first kept entry, not the ids trimming removed: so any id
    older than the first kept one counts as removed, once entries were removed
    at all (``entries-added`` > ``length``; Redis 6 does not say: a full stream).
    """
    deleted = _optional_id(info, "max-deleted-entry-id")
    first = info.get("first-entry")
    if not first:
        return deleted
    added = info.get("entries-added")
    removed = added > info["length"] if isinstance(added, int) else info["length"] >= maxlen
    if not removed:
        return deleted
    ms, seq = parse_id(first[0])
    before_first = (ms, seq - 1) if seq else (ms - 1, MAX_SEQ)
    return max(deleted, before_first)


def _entries(channel: str, raw: list[Any]) -> list[Entry]:
    """Stream entries as (key, Message), in order.

    Fields come as redis-py's dict (its XRANGE) or as the raw reply's flat
    ``[field, value, ...]`` list (the reader's XREAD).
    """
    entries = []
    for entry_id, fields in raw:
        values = fields if isinstance(fields, dict) else dict(
            zip(fields[::2], fields[1::2], strict=False)) if fields else {}
        entries.append((parse_id(entry_id), Message(channel, entry_id, values.get("d", ""))))
    return entries


class RedisBus(Bus):
    """Channels are Redis streams under `prefix`; each keeps its newest `maxlen` messages."""

    def __init__(self, url: str, maxlen: int = 1000, prefix: str = "brubeck:pubsub:",
                 block_ms: int = 5000, connections: int = 50) -> None:
        super().__init__(maxlen)
        self.url = url
        self.prefix = prefix
        self.block_ms = block_ms
        # Publishers beyond `connections` wait for a free one (green), never fail.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=connections, timeout=30, decode_responses=True)
        self.client = redis.Redis(connection_pool=pool)
        self.reads = 0  # XREADs the reader has issued, for the tests and the curious
        self._closed = False
        self._reader: Any = None
        self._connection: Any = None
        self._reader_id: int | None = None
        self._in_read = False
        self._generation = 0
        self._added = concurrency.active().Event()
        self._reader_done = concurrency.active().Event()

    def _key(self, channel: str) -> str:
        return f"{self.prefix}s:{channel}"

    # -- publishing ----------------------------------------------------------------------

    def publish(self, channel: str, data: str) -> str:
        if not isinstance(data, str):
            raise TypeError(f"pubsub messages are str, got {type(data).__name__}")
        if not isinstance(channel, str) or not channel:
            raise ValueError(f"a channel is a non-empty str, got {channel!r}")
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self._key(channel), {"d": data}, maxlen=self.maxlen, approximate=False)
        pipe.sadd(f"{self.prefix}channels", channel)
        entry_id, _added = pipe.execute()
        return str(entry_id)

    def channels(self) -> list[str]:
        return sorted(str(name) for name in self.client.smembers(f"{self.prefix}channels"))

    # -- the store's side of the local buffer --------------------------------------------

    def _info(self, pipe: Any) -> dict[str, Any] | None:
        """The XINFO STREAM reply in a pipeline's results; None if the stream is absent."""
        return pipe if isinstance(pipe, dict) else None

    def _load(self, channel: Channel) -> None:
        """The newest `maxlen` messages, and which ids trimming may have removed."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xrevrange(self._key(channel.name), count=self.maxlen)
        pipe.xinfo_stream(self._key(channel.name))
        newest_first, info_reply = pipe.execute(raise_on_error=False)
        entries = _entries(channel.name, list(reversed(newest_first or [])))
        channel.deliver(entries)
        info = self._info(info_reply)
        if info is None:
            return
        channel.promised = _optional_id(info, "last-generated-id")
        channel.trimmed = _trimmed(info, self.maxlen)
        if entries and info["length"] > len(entries):
            channel.complete_from = entries[0][0]

    def _fetch(self, channel: Channel, after: StreamId) -> list[Message]:
        """Older messages than the buffer holds (a bus with a smaller maxlen than the stream)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xinfo_stream(self._key(channel.name))
        pipe.xrange(self._key(channel.name), min=format_id((after[0], after[1] + 1)))
        info_reply, raw = pipe.execute(raise_on_error=False)
        info = self._info(info_reply)
        trimmed = _trimmed(info, self.maxlen) if info is not None else (0, 0)
        if after < trimmed:
            raise Gap(channel.name, format_id(after), format_id(trimmed))
        return [message for _key, message in _entries(channel.name, raw or [])]

    def _store_last(self, channel: Channel) -> StreamId:
        try:
            info = self.client.xinfo_stream(self._key(channel.name))
        except redis.ResponseError:  # no such stream (yet, or any more)
            return (0, 0)
        return _optional_id(info, "last-generated-id")

    # -- the reader ----------------------------------------------------------------------

    def _followed(self, channel: Channel) -> None:
        if self._closed:
            raise RuntimeError("this pubsub bus is closed")
        if self._reader is None:
            self._reader_done.clear()
            self._reader = concurrency.active().spawn(self._read_forever)
        self._added.set()
        self._wake_reader()

    def _wake_reader(self) -> None:
        """Interrupt a blocked XREAD so the next one includes the new channel."""
        generation = self._generation
        for _ in range(200):  # bounded: the read may not have reached Redis yet
            if not self._in_read or self._generation != generation or self._reader_id is None:
                return
            if self.client.client_unblock(self._reader_id):
                return
            concurrency.active().sleep(0.005)

    def _read_forever(self) -> None:
        backoff = 0.1
        try:
            while not self._closed:
                try:
                    self._read_once()
                    backoff = 0.1
                except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                    self._drop_connection()
                    if self._closed:
                        break
                    log.warning("pubsub reader lost Redis (%s); retrying in %.1fs",
                                error, backoff)
                    concurrency.active().sleep(backoff)
                    backoff = min(2.0, backoff * 2)
                except Exception:
                    self._drop_connection()
                    log.exception("pubsub reader failed; retrying in 1s")
                    concurrency.active().sleep(1)
        finally:
            self._reader_done.set()

    def _read_once(self) -> None:
        for idle in self._idle_channels():
            del self._channels[idle.name]
        names = [name for name, channel in self._channels.items() if channel.loading is None]
        if not names:
            self._added.clear()
            self._added.wait(self.block_ms / 1000)
            return
        connection = self._reader_connection()
        if self._closed:  # closed while connecting: no XREAD to wait out
            return
        positions = [format_id(self._channels[name].last) for name in names]
        self._in_read = True
        try:
            connection.send_command("XREAD", "COUNT", READ_COUNT, "BLOCK", self.block_ms,
                                    "STREAMS", *(self._key(n) for n in names), *positions)
            reply = connection.read_response()
        finally:
            self._in_read = False
            self._generation += 1
        self.reads += 1
        skip = len(self._key(""))
        streams = reply.items() if isinstance(reply, dict) else reply or []  # RESP3 or RESP2
        for key, raw in streams:
            channel = self._channels.get(key[skip:])
            if channel is not None:
                channel.deliver(_entries(channel.name, raw))

    def _reader_connection(self) -> Any:
        """The reader's own connection (not the pool's), and its CLIENT ID for unblocking."""
        if self._connection is None:
            pool = self.client.connection_pool
            connection: Any = pool.connection_class(**pool.connection_kwargs)
            connection.socket_timeout = self.block_ms / 1000 + 10  # a dead server, not a quiet one
            connection.connect()
            connection.send_command("CLIENT", "ID")
            self._reader_id = int(connection.read_response())
            self._connection = connection
        return self._connection

    def _stop_reader(self, reader: Any) -> None:
        """Let the reader finish its step and leave; kill it only if it has not within a
        second. (Killed inside redis-py's connect(), it would leak the new socket.)"""
        self._added.set()  # an idle reader wakes up and sees `_closed`
        for _ in range(200):
            if self._reader_done.is_set():
                return
            if self._in_read and self._reader_id is not None:
                try:
                    self.client.client_unblock(self._reader_id)  # its XREAD returns now
                except redis.RedisError:
                    break  # Redis is gone: nothing will answer the reader either
            concurrency.active().sleep(0.005)
        reader.kill()

    def _drop_connection(self) -> None:
        connection, self._connection, self._reader_id = self._connection, None, None
        if connection is not None:
            connection.disconnect()

    def _forked(self) -> None:
        super()._forked()
        self._reader = self._connection = self._reader_id = None
        self._in_read = False

    def close(self) -> None:
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            self._stop_reader(reader)
        self._drop_connection()
        # The pool is ours: redis-py's close() leaves a pool it was handed open.
        self.client.connection_pool.disconnect()
        self.client.close()
        super().close()
