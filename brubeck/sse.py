"""Server-Sent Events: `EventStreamHandler`, a `text/event-stream` as a handler::

    class Clock(EventStreamHandler):
        def get(self):
            n = int(self.last_event_id or 0)     # where a reconnecting client left off
            while not self.message.is_disconnected():
                n += 1
                self.send_event(time.ctime(), id=n)
                self.application.backend.sleep(1)

Each `send_event` leaves at once (`brubeck.streaming`: the first one with the
head). While the handler sends nothing for `keepalive` seconds a comment goes
out, which the browser ignores and proxies and NAT tables take as traffic; it
also finds a client that left: the send fails and ends the handler. A verb may
instead return a generator of `event(...)` and `comment()` bytes (middleware
headers such as CORS then reach the client too; keep-alives are its own).

The browser's `EventSource` reconnects by itself (after `retry` ms) and sends
the last id it saw as `Last-Event-ID`: `self.last_event_id`.
"""

from __future__ import annotations

from typing import Any

from .handlers import WebMessageHandler
from .streaming import EVENT_STREAM, KEEPALIVE, comment, encode_event, last_event_id

__all__ = ["EventStreamHandler", "comment", "event"]

#: `event(data, event=None, id=None, retry=None)`: one event's bytes, for generators.
event = encode_event


class EventStreamHandler(WebMessageHandler):
    """A handler answering with a `text/event-stream`; send with `send_event`."""

    #: Seconds without a send after which a keep-alive comment goes out (0: never).
    keepalive: float = 15.0
    #: Milliseconds the browser waits before reconnecting, sent with the first event
    #: (None: the browser's own, about 3 s).
    retry: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream_headers()

    def stream_headers(self) -> None:
        """An event stream is never cached, and never buffered by a proxy (nginx)."""
        self.headers["Content-Type"] = EVENT_STREAM
        self.headers["Cache-Control"] = "no-cache"
        self.headers["X-Accel-Buffering"] = "no"

    @property
    def last_event_id(self) -> str | None:
        """The `Last-Event-ID` a reconnecting client sent (None on its first visit)."""
        return last_event_id(self.message)

    def send_event(self, data: Any, event: str | None = None, id: Any = None,
                   retry: int | None = None) -> None:
        """Send one event now: `data` (str, bytes, else JSON; one `data:` line per line),
        its `event` type, `id` (the client's next `Last-Event-ID`), `retry` (ms).
        Raises `streaming.ClientDisconnected` once the client has gone."""
        first = "_stream" not in vars(self)
        if first and retry is None:
            retry = self.retry
        self.write(encode_event(data, event, id, retry))
        self.flush()
        if first:
            writer = vars(self).get("_stream")
            if writer is not None:
                writer.keep_alive(self.application.backend, self.keepalive, KEEPALIVE)

    def send_comment(self, text: str = "") -> None:
        """Send a comment line (ignored by the client) now."""
        self.write(comment(text))
        self.flush()
