"""Moved: the strict head and chunk parser is `brubeck.servers.http`; lengths are `brubeck.request`.

Kept so code that imported these names from here keeps working.
"""

from __future__ import annotations

from .request import MAX_LENGTH_DIGITS, parse_content_length
from .servers.http import (
    MAX_CHUNK_LINE,
    ChunkedBody,
    ChunkedDecoder,
    HeadFields,
    Refusal,
    check_head,
    check_request_line,
    head_lines,
    head_timeout,
    read_request_line,
    starts_request,
)

__all__ = [
    "MAX_CHUNK_LINE", "MAX_LENGTH_DIGITS", "ChunkedBody", "ChunkedDecoder", "HeadFields",
    "Refusal", "check_head", "check_request_line", "head_lines", "head_timeout",
    "parse_content_length", "read_request_line", "starts_request",
]
