"""Request size limits, shared by every connection so all transports refuse alike."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    """What a single request may weigh. Over a limit is a 4xx, never a crash."""

    request_line: int = 8 * KiB
    header_bytes: int = 64 * KiB
    header_count: int = 100
    body: int = 10 * MiB
    json_body: int = 1 * MiB
    multipart_parts: int = 1000
    multipart_files: int = 100
    form_fields: int = 1000

    @classmethod
    def from_config(cls, value: Limits | dict[str, Any] | None) -> Limits:
        if value is None:
            return cls()
        if isinstance(value, Limits):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"'limits' must be a dict or Limits, not {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown limits {unknown}; known: {sorted(known)}")
        for name, number in value.items():
            if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
                raise TypeError(f"limit {name!r} must be a positive int, not {number!r}")
        return cls(**value)


DEFAULT_LIMITS = Limits()
