"""Baseline: Tornado 6 hello, one process (Brubeck 0.4 compared itself with this)."""

import asyncio
import sys

import tornado.web

from bench.apps import HELLO


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(HELLO)


async def main(port: int) -> None:
    app = tornado.web.Application([(r"/.*", Hello)])
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
