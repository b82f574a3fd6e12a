"""A bounded keep-alive HTTP/1.1 load generator: the fallback when wrk is absent.

    python -m bench.pyload URL CONNECTIONS SECONDS [TIMEOUT]

It is much slower than wrk (one Python process), so its figures only mean
something as ratios within one run. At most MAX_CONNECTIONS connections, and
every request has a timeout, so it always ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

MAX_CONNECTIONS = 1000


async def _client(host: str, port: int, request: bytes, deadline: float, timeout: float,
                  latencies: list[float], errors: list[int]) -> None:
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout)
            start = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await asyncio.wait_for(reader.readexactly(length), timeout)
            latencies.append(time.perf_counter() - start)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.1 3")):
                errors[0] += 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            errors[0] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(url: str, connections: int, duration: float, timeout: float) -> dict:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    latencies: list[float] = []
    errors = [0]
    began = time.monotonic()
    deadline = began + duration
    await asyncio.gather(*(
        _client(parts.hostname, parts.port or 80, request, deadline, timeout, latencies, errors)
        for _ in range(min(connections, MAX_CONNECTIONS))
    ))
    elapsed = time.monotonic() - began
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors[0],
        "requests": len(latencies),
    }


if __name__ == "__main__":
    url, conns, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    print(json.dumps(asyncio.run(main(url, conns, seconds, limit))))
