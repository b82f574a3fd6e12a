"""A WebSocket app for worker processes behind Mongrel2 (tests/websocket/test_mongrel2_*):
each connection is told which worker pid holds it, then gets its messages echoed."""

from __future__ import annotations

import os

from brubeck.app import Brubeck
from brubeck.websocket import WebSocketHandler


class Pid(WebSocketHandler):
    def open(self):
        self.write_message(f"pid:{os.getpid()}")

    def on_message(self, message):
        self.write_message(message)


class Idle(WebSocketHandler):
    """Holds the connection and says nothing (the many-idle-connections test)."""


app = Brubeck(handler_tuples=[(r"^/pid$", Pid), (r"^/idle$", Idle)])
