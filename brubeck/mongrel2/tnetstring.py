"""Typed netstrings (tnetstrings): the header format of Mongrel2's `tnetstring` protocol.

A value is `LENGTH:DATA` followed by one type character:
`,` bytes, `#` int, `^` float, `!` bool, `~` null, `}` dict, `]` list.
Strings stay bytes here: Mongrel2 forwards whatever bytes the client sent,
and the caller decides how to decode them. Malformed input raises
`ValueError` and never reads past the given buffer.

With `tnetstring3` installed (the `fast` extra) its C parser reads first, and
this module's pure-Python parser stays the rule: a C result is kept only when
it is plain (bytes, a list of bytes, or a dict of bytes to bytes or lists of
bytes: Mongrel2's headers and bodies), where both parsers agree (the property
tests check it); anything else, and anything C refuses, is parsed here again.
Both are linear in their input, so a hostile one costs at most both passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Value = bytes | int | float | bool | None | dict[bytes, Any] | list[Any]

MAX_DEPTH = 32  # Mongrel2 sends flat dicts with list values; deeper is hostile


def _c_parser() -> Callable[[bytes], tuple[Any, bytes]] | None:
    """tnetstring3's C `pop`, if installed (it imports as `tnetstring`)."""
    try:
        from tnetstring import _tnetstring
    except ImportError:
        return None
    pop: Callable[[bytes], tuple[Any, bytes]] = _tnetstring.pop
    return pop


#: The C parser in use (None: pure Python only). Tests set it to compare both.
c_pop = _c_parser()


def _plain(value: Any) -> bool:
    """Whether a C result is of the shapes where both parsers are known to agree."""
    kind = type(value)
    if kind is bytes:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not bytes:
                return False
            if type(item) is not bytes and not (
                    type(item) is list and all(type(v) is bytes for v in item)):
                return False
        return True
    return kind is list and all(type(v) is bytes for v in value)


def parse(data: bytes, depth: int = 0) -> tuple[Value, bytes]:
    """Parse one tnetstring at the start of `data`; return it and what follows."""
    if c_pop is not None and depth == 0:
        try:
            value, rest = c_pop(data)
        except Exception:  # refused (or broken) in C: the Python parser decides
            pass
        else:
            if _plain(value):
                return value, rest
    value, end = _parse_at(data, 0, len(data), depth)
    return value, data[end:]


def loads(data: bytes) -> Value:
    """Parse exactly one tnetstring; trailing bytes are an error."""
    value, rest = parse(data)
    if rest:
        raise ValueError("trailing bytes after tnetstring")
    return value


def parse_python(data: bytes, depth: int = 0) -> tuple[Value, bytes]:
    """`parse` by the pure-Python parser alone (the rule the C path is held to)."""
    value, end = _parse_at(data, 0, len(data), depth)
    return value, data[end:]


def _parse_at(data: bytes, start: int, stop: int, depth: int) -> tuple[Value, int]:
    """The value at `data[start:]` (within `stop`) and the offset after it.

    Offsets, not slices: a dict of n items is read in one pass, not n copies.
    """
    if depth > MAX_DEPTH:
        raise ValueError("tnetstring nested too deeply")
    colon = data.find(b":", start, min(start + 10, stop))
    if colon <= start or not data[start:colon].isdigit():
        raise ValueError("tnetstring does not start with a length")
    begin = colon + 1
    end = begin + int(data[start:colon])
    if end >= stop:
        raise ValueError("tnetstring shorter than its length")
    kind = data[end]
    if kind == 0x2C:  # ","
        return data[begin:end], end + 1
    if kind == 0x7D:  # "}"
        return _dict_at(data, begin, end, depth), end + 1
    if kind == 0x5D:  # "]"
        items = []
        while begin < end:
            item, begin = _parse_at(data, begin, end, depth + 1)
            items.append(item)
        return items, end + 1
    return _scalar(data[begin:end], kind), end + 1


def _dict_at(data: bytes, begin: int, end: int, depth: int) -> dict[bytes, Any]:
    """A dict's items; string keys and values (Mongrel2's headers) are read inline."""
    mapping: dict[bytes, Any] = {}
    find, isdigit = data.find, bytes.isdigit
    while begin < end:
        colon = find(b":", begin, begin + 10)
        if colon <= begin or not isdigit(data[begin:colon]):
            raise ValueError("tnetstring does not start with a length")
        key_end = colon + 1 + int(data[begin:colon])
        if key_end >= end or data[key_end] != 0x2C:
            raise ValueError("tnetstring dict key is not a string")
        key = data[colon + 1:key_end]
        begin = key_end + 1
        if begin >= end:
            raise ValueError("tnetstring dict key without a value")
        colon = find(b":", begin, begin + 10)
        if colon > begin and isdigit(data[begin:colon]):
            value_end = colon + 1 + int(data[begin:colon])
            if value_end < end and data[value_end] == 0x2C:
                mapping[key] = data[colon + 1:value_end]
                begin = value_end + 1
                continue
        mapping[key], begin = _parse_at(data, begin, end, depth + 1)
    return mapping


def _scalar(payload: bytes, kind: int) -> Value:
    if kind == 0x23:  # "#"
        if not payload.lstrip(b"-").isdigit():
            raise ValueError(f"bad tnetstring int {payload[:20]!r}")
        return int(payload)
    if kind == 0x5E:  # "^"
        return float(payload)
    if kind == 0x21:  # "!"
        if payload not in (b"true", b"false"):
            raise ValueError(f"bad tnetstring bool {payload[:20]!r}")
        return payload == b"true"
    if kind == 0x7E:  # "~"
        if payload:
            raise ValueError("tnetstring null with a payload")
        return None
    raise ValueError(f"unknown tnetstring type {bytes([kind])!r}")


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
