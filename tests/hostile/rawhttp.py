"""Raw-socket HTTP for hostile tests: send exact bytes, read exactly one response.

No client library here on purpose: they refuse to send what these tests must send.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field

HOST = "127.0.0.1"  # loopback only, always


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


class NoReply(AssertionError):
    """The server closed or stalled without answering."""


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_reply(sock: socket.socket, head_request: bool = False) -> Reply:
    """Read one response: its head, then a Content-Length body (or to EOF without one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise NoReply(f"connection closed after {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = ([*lines[0].split(" ", 2), ""])[:3]
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    reply = Reply(int(status), reason, headers)
    length = reply.header("content-length")
    if head_request:
        return reply
    if length is None:
        while chunk := sock.recv(65536):
            rest += chunk
    else:
        while len(rest) < int(length):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    reply.body = rest
    return reply


def send_all_tolerant(sock: socket.socket, data: bytes) -> None:
    """Send what the server will take; a server that refused early may stop reading."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def send_while_reading(sock: socket.socket, data: bytes, shutdown: bool = False) -> Reply:
    """Send `data` in a green thread while reading the reply, as an HTTP client that
    handles early responses does: a server (Mongrel2 mid-upload) may answer and stop
    reading a big body without closing, and a client blocked in send would never read."""
    from brubeck import concurrency

    def send() -> None:
        send_all_tolerant(sock, data)
        if shutdown:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)

    sender = concurrency.active().spawn(send)
    try:
        return read_reply(sock)
    finally:
        sender.kill()


def exchange(port: int, data: bytes, timeout: float = 10.0, shutdown: bool = False) -> Reply:
    """One connection, one request, one reply."""
    with connect(port, timeout) as sock:
        send_all_tolerant(sock, data)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        return read_reply(sock)


def closed_by_server(sock: socket.socket, wait: float = 3.0) -> bool:
    """Whether the server closes the connection (EOF or reset) within `wait` seconds."""
    sock.settimeout(wait)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def get(path: str = "/brubeck", extra: bytes = b"") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n".encode("latin-1") + extra + b"\r\n"


def post(path: str, body: bytes, content_type: str | None = None, extra: bytes = b"") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode("latin-1") + extra + b"\r\n" + body


def chunked(body: bytes, size: int = 65536) -> bytes:
    out = bytearray()
    for start in range(0, len(body), size):
        piece = body[start:start + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return bytes(out + b"0\r\n\r\n")
