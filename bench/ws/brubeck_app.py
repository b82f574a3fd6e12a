"""The Brubeck side of the WebSocket benchmark: /echo, and /fan (a room that relays a
message to everyone in it with `broadcast`)."""

from __future__ import annotations

from brubeck.app import Brubeck
from brubeck.websocket import WebSocketHandler, broadcast

ROOM: set[WebSocketHandler] = set()


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


class Fan(WebSocketHandler):
    def open(self):
        ROOM.add(self)

    def on_message(self, message):
        broadcast(ROOM, message)

    def on_close(self):
        ROOM.discard(self)


app = Brubeck(handler_tuples=[(r"^/echo$", Echo), (r"^/fan$", Fan)], log_level="WARNING")
