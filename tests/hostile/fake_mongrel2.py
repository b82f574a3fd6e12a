"""A stand-in for Mongrel2's two ZeroMQ sockets, to push any bytes at a worker's PULL socket.

Real Mongrel2 only sends well-formed messages; this binds the PUSH and SUB ends
itself, so tests can send the malformed ones Mongrel2 never would and still
read the worker's replies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from brubeck.mongrel2 import tnetstring

SENDER = "fake-m2"


@dataclass
class Reply:
    conn_ids: list[str]
    data: bytes

    @property
    def status(self) -> int | None:
        """The HTTP status of the reply, None for a close (empty data)."""
        return int(self.data.split(b" ", 2)[1]) if self.data else None


def parse_reply(frame: bytes) -> Reply:
    """`SENDER LEN:ID1 ID2, DATA` -> the ids and the data."""
    _, rest = frame.split(b" ", 1)
    length, _, rest = rest.partition(b":")
    ids, data = rest[:int(length)], rest[int(length) + 2:]
    return Reply(ids.decode().split(), data)


def request_frame(conn_id: int | str, path: str = "/brubeck", method: str = "GET",
                  body: bytes = b"", **headers: str) -> bytes:
    """A well-formed tnetstring request, as Mongrel2 sends it."""
    meta = {"METHOD": method, "PATH": path, "URI": path, "VERSION": "HTTP/1.1",
            "PATTERN": "/", "URL_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1",
            "host": "127.0.0.1", "x-forwarded-for": "127.0.0.1"}
    if body:
        meta["content-length"] = str(len(body))
    meta.update({k.replace("_", "-"): v for k, v in headers.items()})
    return (f"{SENDER} {conn_id} {path} ".encode() + tnetstring.dumps(meta)
            + tnetstring.dumps(body))


class FakeMongrel2:
    """Binds PUSH (the worker's pull_addr) and SUB (its pub_addr) on loopback."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        zmq = backend.zmq
        self.zmq = zmq
        self.context = zmq.Context()
        self.push = self.context.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        pull_port = self.push.bind_to_random_port("tcp://127.0.0.1")
        pub_port = self.sub.bind_to_random_port("tcp://127.0.0.1")
        self.pull_addr = f"tcp://127.0.0.1:{pull_port}"
        self.pub_addr = f"tcp://127.0.0.1:{pub_port}"

    def send(self, frame: bytes) -> None:
        self.push.send(frame)

    def replies_until(self, conn_id: str, timeout: float = 5.0) -> list[Reply]:
        """Every reply read until one for `conn_id` arrives; TimeoutError if none does."""
        deadline = time.monotonic() + timeout
        seen: list[Reply] = []
        while time.monotonic() < deadline:
            try:
                reply = parse_reply(self.sub.recv(self.zmq.NOBLOCK))
            except self.zmq.Again:
                self.backend.sleep(0.005)
                continue
            seen.append(reply)
            if conn_id in reply.conn_ids and reply.data:
                return seen
        raise TimeoutError(f"no reply for connection {conn_id} within {timeout}s: {seen}")

    def close(self) -> None:
        self.push.close()
        self.sub.close()
        self.context.term()
