"""JSON bodies shaped to make a depth pre-scan or a parser work hard, at any size.

Each builder returns exactly `size` bytes (padded with spaces), so a
test can ask for the same shape at n and 2n, or at the 1 MiB `json_body` limit.
The first three are refused (400); the others are valid JSON within the limits.
"""

from __future__ import annotations

from brubeck.limits import DEFAULT_LIMITS

LIMIT = DEFAULT_LIMITS.json_body
DEPTH = DEFAULT_LIMITS.json_depth
# More brackets than the depth limit, none nested: it passes the cheap bracket count.
_ENOUGH_BRACKETS = b"[]" * (DEPTH + 1)


def _fill(head: bytes, unit: bytes, tail: bytes, size: int) -> bytes:
    """head + unit repeated + tail, padded with spaces to exactly `size` bytes."""
    body = head + unit * max(0, (size - len(head) - len(tail)) // len(unit)) + tail
    return body + b" " * (size - len(body))


def reviewer(size: int) -> bytes:
    """Issue #13's shape: enough brackets, then one string that never ends, of `\\"`.

    A scan that restarts at each quote and looks for the string's end rescans
    the rest of the body each time: quadratic.
    """
    return _fill(_ENOUGH_BRACKETS + b'"', b'\\"', b"", size)


def too_deep_at_the_end(size: int) -> bytes:
    """A flat list of empty lists, then one nesting of depth limit+1 at the very end:
    the scan must read every bracket before it can refuse."""
    deep = b"[" * DEPTH + b"]" * DEPTH
    return _fill(b"[", b"[],", deep + b"]", size)


def unbalanced_quotes(size: int) -> bytes:
    """Backslash runs and lone quotes outside any valid string (malformed)."""
    return _fill(_ENOUGH_BRACKETS, b'\\\\\\"x"', b"", size)


def deep_but_legal(size: int) -> bytes:
    """Many values nested exactly to the limit: valid, accepted."""
    item = b"[" * (DEPTH - 1) + b"1" + b"]" * (DEPTH - 1) + b","
    return _fill(b"[", item, b"1]", size)


def brackets(size: int) -> bytes:
    """As many bracket tokens as the size allows: valid, accepted."""
    return _fill(b"[", b"[],", b"[]]", size)


def escaped_strings(size: int) -> bytes:
    """Many short strings full of escapes, after enough brackets to be scanned: valid."""
    return _fill(b"[" + b"[]," * (DEPTH + 1), b'"a\\"b\\\\c\\u00e9\\n",', b"1]", size)


def empty_strings(size: int) -> bytes:
    """As many quotes as the size allows: valid, accepted."""
    return _fill(b"[" + b"[]," * (DEPTH + 1), b'"",', b"1]", size)


REFUSED = {"reviewer": reviewer, "too_deep_at_the_end": too_deep_at_the_end,
           "unbalanced_quotes": unbalanced_quotes}
ACCEPTED = {"deep_but_legal": deep_but_legal, "brackets": brackets,
            "escaped_strings": escaped_strings, "empty_strings": empty_strings}
