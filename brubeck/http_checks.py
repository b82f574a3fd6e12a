"""Checks on a request head that both WSGI servers make alike, before any app code runs.

gevent.pywsgi and eventlet.wsgi read request heads leniently, and differently:
pywsgi takes the first of two Content-Lengths and lets Content-Length ride along
with Transfer-Encoding; both take duplicates; both treat any Transfer-Encoding
but exactly ``chunked`` as no body at all, so the body is parsed as the next
request (request smuggling). The backends' handler subclasses read the head
through `HeadReader` and call `check_head`, so the same bytes get the same
status on either server. See docs/limits.rst for the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from .errors import reason_phrase
from .limits import Limits


class Refusal(ValueError):
    """The request is refused before it reaches the app; the connection is closed after.

    A ValueError, because both servers treat that as a client error (no traceback).
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason

    def response(self) -> bytes:
        """A complete HTTP/1.1 response that also tells the client the connection ends."""
        body = f"{self.status} {self.reason}\n".encode("latin-1", "replace")
        return (
            f"HTTP/1.1 {self.status} {reason_phrase(self.status)}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1") + body


def head_timeout(limits: Limits) -> Refusal:
    return Refusal(408, f"Request head not received within {limits.header_timeout:g} s")


def read_request_line(rfile: IO[bytes], limit: int) -> bytes:
    """The request line, CRLF included; longer than `limit` bytes is a 414."""
    line = rfile.readline(limit + 1)
    if len(line) > limit:
        raise Refusal(414, "Request line too long")
    return line


# http.client.parse_headers refuses a line over 64 KiB and a 100th line
# (counting the blank one that ends the head).
_STDLIB_MAX_LINE = 65536


def head_lines(rfile: IO[bytes], limits: Limits) -> Iterator[bytes]:
    """The head's header lines (CRLF included), checked; stops at the blank line.

    Refuses what a lenient parser would misread: too many or too large lines
    (431), obsolete folding, and bare CR or NUL inside a line (400). A line cut
    short by the client going away is yielded last, without its newline.
    """
    left, count = limits.header_bytes, 0
    while True:
        line = rfile.readline(min(left, _STDLIB_MAX_LINE) + 1)
        if line == b"\r\n" or line == b"\n" or not line:
            return
        left -= len(line)
        if left < 0:
            raise Refusal(431, "Request headers too large")
        if line[-1:] != b"\n":
            if len(line) > _STDLIB_MAX_LINE:
                raise Refusal(431, "Request header line too long")
            yield line
            return
        count += 1
        if count > limits.header_count:
            raise Refusal(431, "Too many request headers")
        if line[0] in b" \t":
            raise Refusal(400, "Obsolete header line folding")
        end = -2 if line[-2:-1] == b"\r" else -1
        if b"\r" in line[:end] or b"\0" in line[:end]:
            raise Refusal(400, "Control character in header")
        yield line


#: A header name as the stdlib's parser accepts it: visible ASCII but the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+\Z")


class HeadFields:
    """A request head parsed once, offering what pywsgi asks of its header object.

    It replaces pywsgi's trip through the email parser (and its re-splitting of
    the lines that parser joined) with one pass over lines `head_lines` checked.
    """

    __slots__ = ("pairs", "_index", "status")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.status = ""
        index: dict[str, list[str]] = {}
        for name, value in pairs:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    @classmethod
    def read(cls, rfile: IO[bytes], limits: Limits) -> HeadFields:
        pairs = []
        malformed = False  # refused after the whole head is read, as sizes come first
        for raw in head_lines(rfile, limits):
            if raw[-1:] != b"\n":
                break  # the client left mid-head; the request line was read: no body
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon or not _FIELD_NAME.match(name):
                malformed = True
            pairs.append((name, value.strip(" \t\r\n")))
        if malformed:
            raise Refusal(400, "Malformed header line")
        return cls(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def get(self, name: str, default: Any = None) -> Any:
        values = self._index.get(name.lower())
        return values[0] if values else default

    getheader = get

    def get_all(self, name: str, failobj: Any = None) -> Any:
        return self._index.get(name.lower(), failobj)

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._index.pop(lowered, None)
        self.pairs = [pair for pair in self.pairs if pair[0].lower() != lowered]

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")

    @property
    def headers(self) -> Iterator[str]:
        return (f"{name}: {value}\r\n" for name, value in self.pairs)

    def environ_items(self) -> Iterator[tuple[str, str]]:
        """CGI-style `HTTP_*` keys; names with `_` are dropped (they would alias `-`)."""
        for name, value in self.pairs:
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
                yield "HTTP_" + key, value


class HeadReader:
    """Stands in for the connection's file while `http.client.parse_headers` reads the head.

    That parser (eventlet uses it) bounds each line but not the block, counts
    the blank line against its fixed 100 (so 99 headers at most, whatever we
    configure), keeps bare CRs, and silently stops at a line without a colon,
    dropping the rest. This reader reads and checks the whole block first
    (`head_lines`), then hands it over in a few large "lines" (the parser joins
    lines before parsing, so that is the same text), and counts header lines so
    that `check_head` can notice dropped ones.
    """

    __slots__ = ("_rfile", "_limits", "_pending", "count")

    def __init__(self, rfile: IO[bytes], limits: Limits) -> None:
        self._rfile = rfile
        self._limits = limits
        self._pending: list[bytes] | None = None
        self.count = 0

    def readline(self, size: int = -1) -> bytes:
        if self._pending is None:
            self._pending = self._read_block()
        return self._pending.pop() if self._pending else b""

    def _read_block(self) -> list[bytes]:
        """The head's lines grouped under the parser's line bound, in reverse order."""
        groups: list[bytes] = []
        group = bytearray()
        for line in head_lines(self._rfile, self._limits):
            if line[-1:] == b"\n":
                self.count += 1
            if len(group) + len(line) > _STDLIB_MAX_LINE:
                groups.append(bytes(group))
                group = bytearray()
            group += line
        pending = [b"\r\n"]
        if group:
            pending.append(bytes(group))
        pending.extend(reversed(groups))
        return pending


def check_head(headers: Any, lines: int, limits: Limits) -> None:
    """Refuse ambiguous framing and oversized bodies, from parsed `headers` (an HTTPMessage).

    `lines` is `HeadReader.count`: fewer parsed fields than lines means the
    parser dropped some (a line without a colon, a space before the colon).
    """
    if len(headers) != lines:
        raise Refusal(400, "Malformed header line")
    lengths = headers.get_all("content-length")
    codings = headers.get_all("transfer-encoding")
    if codings:
        if lengths:
            raise Refusal(400, "Content-Length with Transfer-Encoding")
        if len(codings) > 1 or codings[0].strip(" \t").lower() != "chunked":
            raise Refusal(501, "Only Transfer-Encoding: chunked is supported")
        return
    if not lengths:
        return
    if len(lengths) > 1:
        raise Refusal(400, "Duplicate Content-Length")
    text = lengths[0].strip(" \t")
    if not (text.isascii() and text.isdigit()):
        raise Refusal(400, "Invalid Content-Length")
    if int(text) > limits.body:
        raise Refusal(413, f"Request body over {limits.body} bytes")


class LineBound:
    """A body stream's file whose unbounded `readline()` reads at most 8 KiB.

    eventlet reads chunk-size lines and trailers with a bare `readline()`: a
    client sending bytes without a newline would grow it without end.
    """

    __slots__ = ("_rfile", "read")
    MAX_LINE = 8 * 1024

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self.read = rfile.read

    def readline(self, size: int = -1) -> bytes:
        return self._rfile.readline(size if 0 <= size <= self.MAX_LINE else self.MAX_LINE)


def starts_request(rfile: Any) -> bool:
    """Wait for the first byte of a request (under the socket's read timeout).

    False when the client closed or idled out: close quietly, no 408 for an idle
    keep-alive connection, whose client may be about to reuse it.
    """
    try:
        return not rfile.closed and bool(rfile.peek(1))
    except (OSError, ValueError):
        return False
