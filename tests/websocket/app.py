"""The handlers the WebSocket tests talk to."""

from __future__ import annotations

from brubeck.app import Brubeck
from brubeck.auth import web_authenticated
from brubeck.websocket import WebSocketClosed, WebSocketHandler, broadcast

EVENTS: list = []
ROOM: list = []


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


class Small(Echo):
    max_message_size = 1000


class Synchronous(WebSocketHandler):
    """The synchronous style: open() loops on receive()."""

    def open(self, name="anon"):
        self.write_message(f"hello {name}")
        while (message := self.receive()) is not None:
            if message == "wait":
                try:
                    self.receive(timeout=0.05)
                except TimeoutError:
                    self.write_message("timed out")
                continue
            self.write_message(f"{name}: {message}")

    def on_close(self):
        EVENTS.append(("sync closed", self.close_code))


class Commands(WebSocketHandler):
    def open(self):
        EVENTS.append("open")

    def on_message(self, message):
        if message == "close":
            self.close(4000, "bye")
            try:
                self.write_message("after close")
            except WebSocketClosed:
                EVENTS.append("write after close refused")
        elif message == "ping":
            self.ping(b"abc")
        elif message == "raise":
            raise RuntimeError("handler bug")
        elif message == "json":
            self.write_message({"a": 1})

    def on_pong(self, data):
        self.write_message(f"pong:{data.decode()}")

    def on_close(self):
        EVENTS.append(("closed", self.close_code, self.close_reason))


class Ordered(WebSocketHandler):
    """Messages sent while open() still runs wait for it, then reach on_message in order
    (over sockets on_message then runs in the reader: `Transport.delivers_inline`)."""

    def open(self):
        self.application.backend.sleep(0.2)
        EVENTS.append("opened")

    def on_message(self, message):
        EVENTS.append(message)
        if message == "close":
            self.close(4002, "asked")
            EVENTS.append("close returned")
        elif message == "receive":
            self.receive()  # refused inside on_message: the handler fails with 1011
        else:
            self.write_message(message)

    def on_close(self):
        EVENTS.append("on_close")


class TakeOver(WebSocketHandler):
    """on_message hands the rest of the session to a receive() loop of its own."""

    def on_message(self, message):
        if message == "take over":
            self.application.backend.spawn(self._loop)

    def _loop(self):
        self.write_message("looping")
        while (message := self.receive()) is not None:
            self.write_message(f"loop:{message}")
        EVENTS.append("loop ended")

    def on_close(self):
        EVENTS.append("on_close")


class Chat(WebSocketHandler):
    def select_subprotocol(self, subprotocols):
        return "chat" if "chat" in subprotocols else None

    def open(self):
        ROOM.append(self)
        self.write_message(f"proto:{self.subprotocol}")

    def on_message(self, message):
        broadcast(ROOM, message)

    def on_close(self):
        ROOM.remove(self)


class Private(WebSocketHandler):
    def get_current_user(self):
        return self.message.headers.get("X-User")

    @web_authenticated
    def open(self):
        self.write_message(f"hi {self.current_user}")


class Pinged(Echo):
    ping_interval = 0.05
    ping_timeout = 0.1


class PingedPatient(Echo):
    """Pinged as often, but a pong may take 1 s: a loaded machine stalls a process for
    longer than 0.1 s (three processes behind Mongrel2), and the client must stay."""

    ping_interval = 0.05
    ping_timeout = 1.0


class Firehose(WebSocketHandler):
    """Writes until the client's reading stalls it out (slow-reader tests)."""

    write_timeout = 0.5

    def open(self):
        # Wait for the client's word: behind Mongrel2 a flood that starts with the 101
        # can overflow Mongrel2's buffer and reset the connection before the client has
        # read its handshake answer (a reset discards what the client had not read).
        if self.receive(timeout=10) is None:
            return
        chunk = b"x" * 65536
        try:
            for count in range(1, 10_000):  # bounded: 655 MB if nothing pushed back
                self.write_message(chunk)
                EVENTS.append(count)
        except WebSocketClosed:
            EVENTS.append("stopped")


class Stream(WebSocketHandler):
    """Writes 64 KiB messages as fast as it can to a client that reads them all
    (`stream N`), then "done"; records any pong its handler hears."""

    def open(self):
        count = int(self.receive(timeout=10).split()[1])
        chunk = b"y" * 65536
        for index in range(count):
            self.write_message(index.to_bytes(4, "big") + chunk)
        self.write_message("done")

    def on_pong(self, data):
        EVENTS.append(("pong", data))


def build_app(**config):
    config.setdefault("cookie_secret", "a-test-secret-that-is-long-enough-0123456789")
    return Brubeck(handler_tuples=[
        (r"^/echo$", Echo),
        (r"^/small$", Small),
        (r"^/sync/(?P<name>\w+)$", Synchronous),
        (r"^/commands$", Commands),
        (r"^/ordered$", Ordered),
        (r"^/takeover$", TakeOver),
        (r"^/chat$", Chat),
        (r"^/private$", Private),
        (r"^/firehose$", Firehose),
        (r"^/stream$", Stream),
        (r"^/pinged$", Pinged),
        (r"^/pinged-patient$", PingedPatient),
    ], **config)
