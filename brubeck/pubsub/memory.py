"""The in-process bus: one worker, or tests. The local buffer is the whole store."""

from __future__ import annotations

import os
import time

from . import Bus, Message, StreamId, format_id


class MemoryBus(Bus):
    """Messages live in this process only; ids are ``"MS-SEQ"`` like Redis Streams' own."""

    def __init__(self, url: str = "memory://", maxlen: int = 1000) -> None:
        super().__init__(maxlen)
        self.url = url
        self._newest: StreamId = (0, 0)

    def publish(self, channel: str, data: str) -> str:
        if not isinstance(data, str):
            raise TypeError(f"pubsub messages are str, got {type(data).__name__}")
        followed = self._channel(channel)
        now = int(time.time() * 1000)
        ms, seq = self._newest
        key = (now, 0) if now > ms else (ms, seq + 1)  # ordered even if the clock steps back
        self._newest = key
        message = Message(channel, format_id(key), data)
        followed.deliver([(key, message)])
        return message.id

    def channels(self) -> list[str]:
        return sorted(name for name, channel in self._channels.items() if channel.buffer)

    def _forked(self) -> None:
        """A fork keeps its parent's messages: in memory, they are the store."""
        self._pid = os.getpid()
