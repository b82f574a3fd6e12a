"""A keep-alive HTTP/1.1 load for the supervisor tests, run as its own process.

    python -m tests.workers.loader URL CONNECTIONS SECONDS [TIMEOUT]
    python -m tests.workers.loader count URL CONNECTIONS REQUESTS [TIMEOUT]

Plain asyncio (no green library), so the test process's backend does not
shape the load. Prints one JSON line: requests, statuses, timeouts (no
answer within TIMEOUT), errors, retries and the bodies seen.

A keep-alive connection the server closed while idle fails the next request
before any byte of an answer; like browsers and urllib3 for idempotent
requests, the request is sent again once on a new connection and counted
under "retried" (a failure on the new connection counts as an error). An
answer that ends its connection (`Connection: close`, or HTTP/1.0 without
`Connection: keep-alive`) is followed by a new connection, not a resend.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

MAX_CONNECTIONS = 500


class Closed(Exception):
    """The connection ended before any byte of the answer."""


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes, timeout: float) -> tuple[int, bytes, bool]:
    writer.write(request)
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise Closed from None
        raise
    lines = head.split(b"\r\n")
    version, status_code = lines[0].split()[:2]
    status = int(status_code)
    length, connection = 0, set()
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            connection |= {token.strip() for token in value.lower().split(b",")}
    # RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 closes unless "keep-alive".
    if version == b"HTTP/1.1":
        close = b"close" in connection
    else:
        close = b"keep-alive" not in connection or b"close" in connection
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return status, body, close


def _claim(tally: dict, total: int | None) -> bool:
    """Take one of the `total` requests before sending it (always, without a total)."""
    if total is not None:
        if tally["sent"] >= total:
            return False
        tally["sent"] += 1
    return True


async def _client(host: str, port: int, request: bytes, deadline: float, timeout: float,
                  tally: dict, total: int | None = None) -> None:
    reader = writer = None
    used = False  # the open connection has answered before (an idle close may race us)
    while time.monotonic() < deadline and _claim(tally, total):
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                        timeout)
                used = False
            try:
                status, body, close = await _exchange(reader, writer, request, timeout)
            except (Closed, ConnectionResetError, BrokenPipeError):
                if not used:
                    raise
                writer.close()
                tally["retried"] += 1
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                        timeout)
                used = False
                status, body, close = await _exchange(reader, writer, request, timeout)
            used = True
            tally["requests"] += 1
            tally["status"][str(status)] += 1
            tally["bodies"][body.decode("utf-8", "replace")[:80]] += 1
            if close:
                writer.close()
                reader = writer = None
        except asyncio.TimeoutError:
            tally["timeouts"] += 1
            tally["requests"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
        except (OSError, Closed, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            tally["errors"] += 1
            tally["requests"] += 1
            tally["error_kinds"][type(error).__name__] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run(url: str, connections: int, seconds: float, timeout: float,
              total: int | None = None) -> dict:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    tally: dict = {"requests": 0, "sent": 0, "timeouts": 0, "errors": 0, "retried": 0,
                   "status": Counter(), "bodies": Counter(), "error_kinds": Counter()}
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_client(parts.hostname or "127.0.0.1", parts.port or 80, request,
                                   deadline, timeout, tally, total)
                           for _ in range(min(connections, MAX_CONNECTIONS))))
    tally["seconds"] = round(time.monotonic() - started, 2)
    return tally


def main(argv: list[str]) -> None:
    if argv[0] == "count":  # REQUESTS requests in all (at most 120 s)
        url, connections, total = argv[1], int(argv[2]), int(argv[3])
        timeout = float(argv[4]) if len(argv) > 4 else 2.0
        result = asyncio.run(run(url, connections, 120.0, timeout, total))
        sys.stdout.write(json.dumps(result) + "\n")
        return
    url, connections, seconds = argv[0], int(argv[1]), float(argv[2])
    timeout = float(argv[3]) if len(argv) > 3 else 2.0
    sys.stdout.write(json.dumps(asyncio.run(run(url, connections, seconds, timeout))) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
