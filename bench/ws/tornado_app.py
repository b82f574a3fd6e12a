"""Tornado 6's WebSockets, the anchor: /echo and /fan as in brubeck_app.py.
`python -m bench.ws.tornado_app PORT`."""

from __future__ import annotations

import asyncio
import sys

import tornado.web
import tornado.websocket

ROOM: set[tornado.websocket.WebSocketHandler] = set()


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


class Fan(tornado.websocket.WebSocketHandler):
    def open(self):
        ROOM.add(self)

    def on_message(self, message):
        for handler in list(ROOM):
            handler.write_message(message, binary=isinstance(message, bytes))

    def on_close(self):
        ROOM.discard(self)


async def main(port: int) -> None:
    app = tornado.web.Application([(r"/echo", Echo), (r"/fan", Fan)],
                                  websocket_max_message_size=1 << 20)
    app.listen(port, "127.0.0.1", backlog=1024)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
