"""Typed netstrings (tnetstrings): the header format of Mongrel2's `tnetstring` protocol.

A value is `LENGTH:DATA` followed by one type character:
`,` bytes, `#` int, `^` float, `!` bool, `~` null, `}` dict, `]` list.
Strings stay bytes here: Mongrel2 forwards whatever bytes the client sent,
and the caller decides how to decode them. Malformed input raises
`ValueError` and never reads past the given buffer.
"""

from __future__ import annotations

from typing import Any, Union

Value = Union[bytes, int, float, bool, None, dict, list]

MAX_DEPTH = 32  # Mongrel2 sends flat dicts with list values; deeper is hostile


def parse(data: bytes, depth: int = 0) -> tuple[Value, bytes]:
    """Parse one tnetstring at the start of `data`; return it and what follows."""
    if depth > MAX_DEPTH:
        raise ValueError("tnetstring nested too deeply")
    colon = data.find(b":", 0, 10)
    if colon <= 0 or not data[:colon].isdigit():
        raise ValueError("tnetstring does not start with a length")
    length = int(data[:colon])
    end = colon + 1 + length
    if end >= len(data):
        raise ValueError("tnetstring shorter than its length")
    payload, kind, rest = data[colon + 1:end], data[end:end + 1], data[end + 1:]
    return _decode(payload, kind, depth), rest


def loads(data: bytes) -> Value:
    """Parse exactly one tnetstring; trailing bytes are an error."""
    value, rest = parse(data)
    if rest:
        raise ValueError("trailing bytes after tnetstring")
    return value


def _decode(payload: bytes, kind: bytes, depth: int) -> Value:
    if kind == b",":
        return payload
    if kind == b"#":
        if not payload.lstrip(b"-").isdigit():
            raise ValueError(f"bad tnetstring int {payload[:20]!r}")
        return int(payload)
    if kind == b"^":
        return float(payload)
    if kind == b"!":
        if payload not in (b"true", b"false"):
            raise ValueError(f"bad tnetstring bool {payload[:20]!r}")
        return payload == b"true"
    if kind == b"~":
        if payload:
            raise ValueError("tnetstring null with a payload")
        return None
    if kind == b"]":
        items = []
        while payload:
            item, payload = parse(payload, depth + 1)
            items.append(item)
        return items
    if kind == b"}":
        mapping: dict = {}
        while payload:
            key, payload = parse(payload, depth + 1)
            if not isinstance(key, bytes):
                raise ValueError("tnetstring dict key is not a string")
            if not payload:
                raise ValueError("tnetstring dict key without a value")
            mapping[key], payload = parse(payload, depth + 1)
        return mapping
    raise ValueError(f"unknown tnetstring type {kind!r}")


def dumps(value: Any) -> bytes:
    """Encode bytes, str (as UTF-8), int, float, bool, None, dicts and lists."""
    if value is None:
        return b"0:~"
    if isinstance(value, bool):  # before int: bool is an int
        text = b"true" if value else b"false"
        return b"%d:%s!" % (len(text), text)
    if isinstance(value, int):
        text = str(value).encode()
        return b"%d:%s#" % (len(text), text)
    if isinstance(value, float):
        text = repr(value).encode()
        return b"%d:%s^" % (len(text), text)
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"%d:%s," % (len(value), bytes(value))
    if isinstance(value, dict):
        payload = b"".join(dumps(k) + dumps(v) for k, v in value.items())
        return b"%d:%s}" % (len(payload), payload)
    if isinstance(value, (list, tuple)):
        payload = b"".join(dumps(item) for item in value)
        return b"%d:%s]" % (len(payload), payload)
    raise TypeError(f"cannot encode {type(value).__name__} as a tnetstring")
