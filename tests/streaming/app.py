"""The app behind the streaming tests: one route per behaviour, served by every transport."""

from __future__ import annotations

import time

from brubeck import concurrency
from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.sse import EventStreamHandler, event
from brubeck.streaming import ClientDisconnected, StreamingResponse

BACKEND = concurrency.active()

#: What handlers saw, for the tests to read (same process as the servers).
SEEN: dict[str, list] = {}
#: Set by a test once it has read the first chunk: the handler then goes on.
GO: dict[str, object] = {}


def reset() -> None:
    SEEN.clear()
    GO["first_read"] = BACKEND.Event()
    GO["started"] = BACKEND.Event()


reset()


def note(key: str, value: object) -> None:
    SEEN.setdefault(key, []).append(value)


class FlushHandler(WebMessageHandler):
    """write()/flush(): the first chunk, then wait until the client has read it."""

    def get(self):
        self.headers["Content-Type"] = "text/plain; charset=utf-8"
        self.set_cookie("flavour", "chunky")
        self.write("first\n")
        self.flush()
        note("first_read", GO["first_read"].wait(10))
        for i in range(3):
            self.write(f"line {i}\n")
            self.flush()
        self.write("unflushed tail\n")


class GeneratorHandler(WebMessageHandler):
    """A verb returning a generator of chunks."""

    def get(self):
        self.headers["Content-Type"] = "text/plain; charset=utf-8"

        def chunks():
            yield "first\n"
            note("first_read", GO["first_read"].wait(10))
            for i in range(3):
                yield f"line {i}\n".encode()

        return chunks()


def function_stream(application, message):
    """A function route returning a StreamingResponse."""
    return StreamingResponse(iter(["a", b"b", "", "c"]), 201, None,
                             {"Content-Type": "text/plain", "X-Kind": "function"})


class ForeverHandler(WebMessageHandler):
    """Streams until the client goes: the send fails, and the handler ends."""

    def get(self):
        GO["started"].set()
        sent = 0
        try:
            for _ in range(2000):  # bounded: 100 s at most
                self.write(f"tick {sent}\n")
                self.flush()
                sent += 1
                BACKEND.sleep(0.05)
        except ClientDisconnected:
            note("forever", ("client left", time.monotonic()))
            raise
        note("forever", ("ran out", time.monotonic()))


class LongPollHandler(WebMessageHandler):
    """Waits for news that never comes; learns the client left from client_gone."""

    def get(self):
        GO["started"].set()
        note("longpoll", (self.message.client_gone.wait(15), time.monotonic()))
        self.set_body("late news")


class PollingHandler(WebMessageHandler):
    """Loops on is_disconnected(), as a long poll without an event would."""

    def get(self):
        GO["started"].set()
        for _ in range(300):  # 15 s at most
            if self.message.is_disconnected():
                note("polling", ("client left", time.monotonic()))
                return self.render(status_code=499)
            BACKEND.sleep(0.05)
        note("polling", ("timed out", time.monotonic()))
        self.set_body("late news")


class BrokenHandler(WebMessageHandler):
    """Fails after the head has gone."""

    def get(self):
        self.write("partial\n")
        self.flush()
        raise RuntimeError("broken mid-stream")


class EventsHandler(EventStreamHandler):
    """`count` events from where the client left off, then the stream ends (the
    browser reconnects with Last-Event-ID)."""

    retry = 200

    def get(self):
        note("last_event_id", self.last_event_id)
        start = int(self.last_event_id or 0)
        count = int(self.get_argument("count", "3"))
        for n in range(start + 1, start + count + 1):
            self.send_event(f"tick {n}", event="tick", id=n)
        if self.get_argument("multiline"):
            self.send_event("one\ntwo\r\nthree\rfour", id="m")
            self.send_event({"json": True})


class QuietEventsHandler(EventStreamHandler):
    """One event, then silence: keep-alive comments fill it."""

    keepalive = 0.2

    def get(self):
        self.send_event("hello")
        note("quiet", GO["first_read"].wait(10))


class GeneratorEventsHandler(EventStreamHandler):
    """Events from a generator (middleware headers reach the client)."""

    def get(self):
        return (event(f"n{n}", id=n) for n in range(3))


PAGE = """<!doctype html><title>events</title>
<script>
window.got = []; window.errors = 0;
var source = new EventSource('/events?count=3');
source.addEventListener('tick', function (e) { window.got.push([e.data, e.lastEventId]); });
source.onerror = function () { window.errors += 1; };
</script><p>listening</p>
"""


class PageHandler(WebMessageHandler):
    def get(self):
        self.set_body(PAGE)


def build_app() -> Brubeck:
    return Brubeck(handler_tuples=[
        (r"^/flush$", FlushHandler),
        (r"^/generator$", GeneratorHandler),
        (r"^/function$", function_stream),
        (r"^/forever$", ForeverHandler),
        (r"^/longpoll$", LongPollHandler),
        (r"^/polling$", PollingHandler),
        (r"^/broken$", BrokenHandler),
        (r"^/events$", EventsHandler),
        (r"^/quiet$", QuietEventsHandler),
        (r"^/generated-events$", GeneratorEventsHandler),
        (r"^/page$", PageHandler),
    ], log_level="WARNING")
