"""A raw HTTP/1.x client that reads a streamed body chunk by chunk, as it arrives."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


class StreamClient:
    def __init__(self, url: str, path: str, version: str = "HTTP/1.1", method: str = "GET",
                 headers: dict[str, str] | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        lines = [f"{method} {path} {version}", f"Host: {parts.hostname}:{parts.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.buffer = b""
        head = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        self.status = int(head[0].split()[1])
        self.headers: dict[str, str] = {}
        self.header_list = []
        for line in head[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
            self.header_list.append((name.strip().lower(), value.strip()))
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed before {marker!r}: {self.buffer[-200:]!r}")
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise EOFError("connection closed mid-chunk")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def next_chunk(self) -> bytes:
        """One chunk of a chunked body (b"" for the last), or what arrives next of a
        body delimited by closing (b"" at EOF)."""
        if not self.chunked:
            if self.buffer:
                data, self.buffer = self.buffer, b""
                return data
            return self.sock.recv(65536)
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        data = self._exactly(size)
        assert self._exactly(2) == b"\r\n"
        return data

    def rest(self) -> list[bytes]:
        """Every chunk up to the end of the body."""
        chunks = []
        for _ in range(100_000):
            data = self.next_chunk()
            if not data:
                return chunks
            chunks.append(data)
        raise AssertionError("endless body")

    def close(self) -> None:
        self.sock.close()
