"""Request size limits and timeouts, shared by every connection so all transports refuse alike."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    """What a single request may weigh, and how long its client may take to send it.

    Over a limit is a 4xx, never a crash. Sizes are bytes; timeouts are seconds.
    """

    request_line: int = 8 * KiB      # method, target and version, CRLF included -> 414
    header_bytes: int = 64 * KiB     # all header lines together -> 431
    header_count: int = 100          # header lines -> 431
    body: int = 10 * MiB             # -> 413, decided before the body is read
    json_body: int = 1 * MiB         # -> 413
    json_depth: int = 100            # nested arrays/objects -> 400
    multipart_parts: int = 1000      # -> 413
    multipart_files: int = 100       # -> 413
    form_fields: int = 1000          # -> 400
    header_timeout: float = 20.0     # accept (or the previous response) to the end of the
    #                                  head -> 408; closed quietly if no byte came at all
    read_timeout: float = 30.0       # any one read from the client (keep-alive, body) -> close/408
    connections: int = 1000          # open connections per WSGI server; more wait in the backlog

    @classmethod
    def from_config(cls, value: Limits | dict[str, Any] | None) -> Limits:
        if value is None:
            return cls()
        if isinstance(value, Limits):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"'limits' must be a dict or Limits, not {type(value).__name__}")
        kinds = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(value) - set(kinds))
        if unknown:
            raise ValueError(f"unknown limits {unknown}; known: {sorted(kinds)}")
        for name, number in value.items():
            allowed = (int, float) if kinds[name] == "float" else int
            if not isinstance(number, allowed) or isinstance(number, bool) or number <= 0:
                kind = "number" if kinds[name] == "float" else "int"
                raise TypeError(f"limit {name!r} must be a positive {kind}, not {number!r}")
        return cls(**value)


DEFAULT_LIMITS = Limits()

#: Listen backlog of both WSGI servers. eventlet's default (50) overflowed at 500
#: simultaneous connects, and the kernel's SYN retries (1 s, 3 s) made the tail.
LISTEN_BACKLOG = 1024
