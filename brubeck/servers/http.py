"""The strict HTTP/1.1 head and chunk parser both WSGI servers read requests through.

gevent.pywsgi and eventlet.wsgi read request heads leniently, and differently:
pywsgi takes the first of two Content-Lengths and lets Content-Length ride along
with Transfer-Encoding; both take duplicates; both treat any Transfer-Encoding
but exactly ``chunked`` as no body at all, so the body is parsed as the next
request (request smuggling); their chunked decoders differ too (eventlet takes
``0x5``, ``+5``, bare LFs and junk after chunk data). The servers in this
package check the request line with `check_request_line`, read the head
through `head_lines` and call `check_head`, and read chunked bodies through
`ChunkedBody`, so the same bytes get the same status on either server. The
framing rules themselves (lengths, codings, 413) are `brubeck.request.body_length`,
which every transport shares. See docs/limits.rst for the table.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterator
from typing import IO, Any

from ..datastructures import Headers
from ..errors import HTTPError
from ..limits import Limits
from ..request import body_length
from ..response import http_bytes, refusal_response


def header_block(status: str, headers: list[tuple[str, str]]) -> str | None:
    """A response's status and headers as CRLF-ended lines of text, or None when one is
    not str or holds a CR or LF, which the server must refuse (header injection).

    One join and one count cost the same for five headers or fifty."""
    try:
        block = "\n".join([status, *map(": ".join, headers)])
    except TypeError:
        return None
    if "\r" in block or block.count("\n") != len(headers):
        return None
    return block.replace("\n", "\r\n") + "\r\n"


_date = (0, "")


def http_date() -> str:
    """Now as an HTTP date (RFC 9110 IMF-fixdate), formatted once per second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True))
    return _date[1]


class Refusal(HTTPError, ValueError):
    """The request is refused before it reaches the app; the connection is closed after.

    An HTTPError, so whatever reads a body through our decoder (the WSGI glue)
    answers it like any other; a ValueError, because both servers treat that
    as a client error (no traceback).
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)

    @property
    def status(self) -> int:
        return self.status_code

    def response(self) -> bytes:
        """The complete refusal, which also tells the client the connection ends."""
        return http_bytes(refusal_response(self.status_code, self.reason), "GET")


def head_timeout(limits: Limits) -> Refusal:
    return Refusal(408, f"Request head not received within {limits.header_timeout:g} s")


def read_request_line(rfile: IO[bytes], limit: int) -> bytes:
    """The request line, CRLF included; longer than `limit` bytes is a 414."""
    line = rfile.readline(limit + 1)
    if len(line) > limit:
        raise Refusal(414, "Request line too long")
    return line


_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
#: RFC 9112 section 3: method SP request-target SP HTTP-version CRLF, single spaces.
#: The target may hold raw bytes over 0x7f: the app refuses those with a 400 of its own.
_REQUEST_LINE = re.compile(_TOKEN + rb" [\x21-\x7e\x80-\xff]+ (HTTP/[0-9]\.[0-9])\r\n")
_VERSIONS = (b"HTTP/1.0", b"HTTP/1.1")


def check_request_line(line: bytes) -> None:
    """Refuse a request line that a whitespace-splitting parser would read leniently.

    Both servers split on any whitespace (``GET\\x0b/x``), take a bare LF, and
    accept versions they do not speak; the same bytes must mean the same to all.
    """
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise Refusal(400, "Malformed request line: send METHOD SP target SP HTTP/1.1 CRLF")
    if match[1] not in _VERSIONS:
        raise Refusal(505, "Only HTTP/1.0 and HTTP/1.1 are supported")


#: The longest header line, whatever `limits.header_bytes` allows: the stdlib's
#: parser's bound, which the servers kept when they stopped using that parser.
_STDLIB_MAX_LINE = 65536


def head_lines(rfile: IO[bytes], limits: Limits) -> Iterator[bytes]:
    """The head's header lines (CRLF included), checked; stops at the blank line.

    Refuses what a lenient parser would misread: too many or too large lines
    (431), obsolete folding, a line ended by a bare LF, and bare CR or NUL inside
    a line (400). A line cut short by the client going away is yielded last,
    without its newline.
    """
    left, count = limits.header_bytes, 0
    while True:
        line = rfile.readline(min(left, _STDLIB_MAX_LINE) + 1)
        if line == b"\r\n" or not line:
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
        if line[-2:-1] != b"\r":
            raise Refusal(400, "Header line ended by a bare LF: end lines with CRLF")
        if line[0] in b" \t":
            raise Refusal(400, "Obsolete header line folding")
        if b"\r" in line[:-2] or b"\0" in line[:-2]:
            raise Refusal(400, "Control character in header")
        yield line


#: A header name as the stdlib's parser accepts it: visible ASCII but the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+\Z")


class HeadFields(Headers):
    """A request head parsed once: `Headers`, plus what pywsgi and eventlet ask of their
    header object.

    Both servers would read heads through the email parser (pywsgi re-splits the
    lines it joined); this is one pass over lines `head_lines` checked, the same
    on both. `pairs` keeps the lines' order and spelling for the environ.
    """

    __slots__ = ("pairs", "status")
    type = None  # eventlet's fallback when Content-Type is absent (the email parser's guess)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        self.status = ""

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

    def getheader(self, name: str, default: Any = None) -> Any:
        return self.get(name, default)

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._values.pop(lowered, None)
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


def check_head(headers: Headers, limits: Limits, version: str = "HTTP/1.1") -> None:
    """Refuse ambiguous framing and oversized bodies in a parsed head, before the body.

    The framing rules themselves are `brubeck.request.body_length`.
    """
    try:
        body_length(headers.get_all("content-length"), headers.get_all("transfer-encoding"),
                    limits, version)
    except HTTPError as error:
        raise Refusal(error.status_code, error.reason) from None


def closes_after(version: str, headers: Headers) -> bool:
    """Whether the connection ends after this request: in HTTP/1.1 on `Connection: close`,
    in HTTP/1.0 unless `Connection: keep-alive` (both servers' rule, and the stdlib's)."""
    connection = headers.get("connection", "").lower()
    return connection == "close" if version == "HTTP/1.1" else connection != "keep-alive"


#: A chunk-size line, extensions and CRLF included; longer is a 400.
MAX_CHUNK_LINE = 4 * 1024

_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_EXTENSION = (rb"(?:[ \t]*;[ \t]*" + _TOKEN
              + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?)*")
#: RFC 9112 section 7.1: chunk-size [ chunk-ext ] CRLF, the size at most 16 hex digits.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})" + _EXTENSION + rb"\r\n")
#: A trailer field: what `head_lines` and `HeadFields` take in a head.
_TRAILER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n\0]*\r\n")

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    """A chunked request body decoded strictly, without I/O (RFC 9112 section 7.1).

    Feed it bytes; it returns body bytes and how many input bytes it used, and
    never uses a byte past the body's end (the next request starts there).
    Framing errors raise `Refusal`: 400 for a malformed or over-long line, 413
    once the declared sizes exceed `limits.body` (before their data arrives),
    431 for a trailer section over `limits.header_bytes` or `header_count`.
    Each input byte is looked at a bounded number of times.
    """

    __slots__ = (
        "_crlf",
        "_left",
        "_limit",
        "_line",
        "_max_trailers",
        "_state",
        "_total",
        "_trailer_bytes",
        "_trailer_count",
    )

    def __init__(self, limits: Limits) -> None:
        self._state = _SIZE
        self._line = bytearray()
        self._left = 0  # data bytes of the current chunk still to come
        self._crlf = 0  # bytes of the CRLF after chunk data seen so far
        self._total = 0
        self._limit = limits.body
        self._trailer_bytes = limits.header_bytes
        self._trailer_count = 0
        self._max_trailers = limits.header_count

    @property
    def done(self) -> bool:
        """The whole body, trailers and final CRLF included, has been fed."""
        return self._state == _DONE

    @property
    def data_left(self) -> int:
        """Body bytes the decoder takes next as they are (the current chunk's rest)."""
        return self._left

    def feed(self, data: bytes, size: int = -1) -> tuple[bytes, int]:
        """Decode the front of `data`: (up to `size` body bytes, input bytes used)."""
        out: list[bytes] = []
        pos, end, wanted = 0, len(data), size
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._left, end - pos)
                if wanted >= 0:
                    if not wanted:
                        break
                    take = min(take, wanted)
                    wanted -= take
                out.append(data[pos:pos + take])
                pos += take
                self._left -= take
                if not self._left:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if not self._crlf and data.startswith(b"\r\n", pos):
                    pos += 2
                    self._state = _SIZE
                    continue
                for byte in data[pos:pos + 2 - self._crlf]:  # split across feeds
                    if byte != b"\r\n"[self._crlf]:
                        raise Refusal(400, "Chunk data not followed by CRLF")
                    self._crlf += 1
                    pos += 1
                if self._crlf == 2:
                    self._crlf = 0
                    self._state = _SIZE
            elif state == _DONE:
                break
            else:
                pos = self._take_line(data, pos, end)
        return b"".join(out), pos

    def _take_line(self, data: bytes, pos: int, end: int) -> int:
        """Gather a size or trailer line; act on it once its LF is in."""
        line = self._line
        if self._state == _SIZE:
            room = MAX_CHUNK_LINE - len(line)
        else:  # the empty line that ends the trailers always fits
            room = max(self._trailer_bytes, 2) - len(line)
        newline = data.find(b"\n", pos, pos + room)
        if newline < 0:
            if end - pos >= room:
                if self._state == _SIZE:
                    raise Refusal(400, f"Chunk size line over {MAX_CHUNK_LINE} bytes")
                raise Refusal(431, "Request trailers too large")
            line += data[pos:end]
            return end
        used = newline + 1
        if line:  # the line began in an earlier feed: act on the joined copy
            line += data[pos:used]
            data, pos, stop = bytes(line), 0, len(line)
            line.clear()
        else:  # the whole line is here: match it in place
            stop = used
        if self._state == _SIZE:
            self._size_line(data, pos, stop)
        else:
            self._trailer_line(data, pos, stop)
        return used

    def _size_line(self, data: bytes, start: int, stop: int) -> None:
        match = _CHUNK_LINE.fullmatch(data, start, stop)
        if match is None:
            raise Refusal(400, "Malformed chunk size line: send 1*HEXDIG [;ext] CRLF")
        size = int(match[1], 16)
        self._total += size
        if self._total > self._limit:
            raise Refusal(413, f"Request body over {self._limit} bytes")
        self._left = size
        self._state = _DATA if size else _TRAILER

    def _trailer_line(self, data: bytes, start: int, stop: int) -> None:
        if stop - start == 2 and data.startswith(b"\r\n", start):
            self._state = _DONE
            return
        self._trailer_bytes -= stop - start
        self._trailer_count += 1
        if self._trailer_bytes < 0 or self._trailer_count > self._max_trailers:
            raise Refusal(431, "Request trailers too large")
        if _TRAILER_LINE.fullmatch(data, start, stop) is None:
            raise Refusal(400, "Malformed trailer line")


class ChunkedBody:
    """A chunked request body read through `ChunkedDecoder` from the connection's file.

    `rfile` is buffered (it has `peek`): line bytes are peeked and only what the
    decoder used is consumed, so the next request's bytes stay in the buffer.
    Both servers' wsgi.input classes read chunked bodies through this.
    """

    __slots__ = ("_decoder", "_rfile")

    def __init__(self, rfile: Any, limits: Limits) -> None:
        self._rfile = rfile
        self._decoder = ChunkedDecoder(limits)

    @property
    def done(self) -> bool:
        return self._decoder.done

    def read(self, size: int | None = -1, line: bool = False) -> bytes:
        """Up to `size` body bytes (all if negative); with `line`, stop after a LF."""
        size = -1 if size is None else size
        decoder, rfile = self._decoder, self._rfile
        out: list[bytes] = []
        got = 0
        while not decoder.done and (size < 0 or got < size):
            wanted = size - got if size >= 0 else -1
            left = decoder.data_left
            if left and not line:  # chunk data: read it as it is, no copy through peek
                piece = rfile.read1(left if wanted < 0 else min(left, wanted))
                if not piece:
                    raise Refusal(400, "Chunked body cut short")
                decoder.feed(piece, wanted)
                out.append(piece)
                got += len(piece)
                continue
            piece = rfile.peek(1)
            if not piece:
                raise Refusal(400, "Chunked body cut short")
            if left:  # line mode: up to the first LF in this chunk's data
                newline = piece.find(b"\n", 0, left)
                if newline >= 0:
                    piece = piece[:newline + 1]
            data, used = decoder.feed(piece, wanted)
            rfile.read(used)
            out.append(data)
            got += len(data)
            if line and data.endswith(b"\n"):
                break
        return b"".join(out)


def starts_request(rfile: Any) -> bool:
    """Wait for the first byte of a request (under the socket's read timeout).

    False when the client closed or idled out: close quietly, no 408 for an idle
    keep-alive connection, whose client may be about to reuse it.
    """
    try:
        return not rfile.closed and bool(rfile.peek(1))
    except (OSError, ValueError):
        return False
