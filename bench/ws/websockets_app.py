"""The `websockets` library's asyncio server, the other anchor: /echo and /fan.
`python -m bench.ws.websockets_app PORT`."""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

ROOM: set = set()


async def handler(ws) -> None:
    if ws.request.path == "/fan":
        ROOM.add(ws)
        try:
            async for message in ws:
                broadcast(ROOM, message)
        finally:
            ROOM.discard(ws)
        return
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=1 << 20,
                     ping_interval=None, backlog=1024) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
