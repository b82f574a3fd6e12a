"""The request a handler sees, the same whichever transport delivered it.

Nothing here does I/O: transports hand what they read to `build_request`,
which holds every HTTP rule about a request once (target, lengths, limits), so
WSGI and Mongrel2 refuse the same input alike. Everything else (arguments,
cookies, JSON, files) is parsed lazily, once, on first use. Malformed input
raises `BadRequest`, which becomes a 400.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl, unquote

import multipart

from .datastructures import Headers
from .errors import BadRequest, HTTPError, RequestTooLarge
from .limits import DEFAULT_LIMITS, Limits

__all__ = ["Headers", "Request", "RequestCookie", "body_length", "build_request",
           "check_path", "check_percent_encoding", "decode_path", "parse_content_length",
           "parse_cookie_header", "parse_json", "parse_query"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Brackets as signed steps (+1 opens, -1 closes), everything else deleted.
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_depth_over(data: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit` (cheap when it cannot).

    A few passes of C over the bytes, each linear, none restarted: drop escaped
    backslashes then escaped quotes (left to right, as JSON reads them), so the
    quotes left open and close strings in turn; keep what lies between strings;
    the running sum of its brackets is the depth. Bytes that are not JSON may
    be misread here, but json.loads refuses them anyway.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    if b'"' in data:
        if b"\\" in data:
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        data = b"".join(data.split(b'"')[::2])
    steps = memoryview(data.translate(_DEPTH_STEPS, _NOT_BRACKETS)).cast("b")
    return max(accumulate(steps), default=0) > limit


def parse_json(data: bytes | str, limit: int, max_depth: int = DEFAULT_LIMITS.json_depth) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, bounded size and nesting; else BadRequest."""
    if len(data) > limit:
        raise RequestTooLarge(f"JSON body over {limit} bytes")
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if json_depth_over(raw, max_depth):
        raise BadRequest(f"JSON nested deeper than {max_depth}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequest("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest("Malformed JSON body", log_message=str(error)) from None


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def check_percent_encoding(text: str, what: str = "Request target") -> None:
    """A `%` not followed by two hex digits is a 400 (unquote would keep it silently)."""
    if "%" in text and _BAD_PERCENT.search(text):
        raise BadRequest(f"{what} has bad percent-encoding")


def check_path(path: str) -> str:
    """A decoded path must not hold NUL, which file systems and C libraries cut at."""
    if "\0" in path:
        raise BadRequest("Path contains NUL")
    return path


def decode_path(raw_path: str | bytes) -> str:
    """Percent-decode a request path as strict UTF-8."""
    if isinstance(raw_path, bytes):
        raw_path = raw_path.decode("latin-1")
    if "%" not in raw_path:  # most paths: nothing to decode (unquote would return it as is)
        return check_path(raw_path)
    check_percent_encoding(raw_path, "Path")
    try:
        return check_path(unquote(raw_path, encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        raise BadRequest("Path is not valid UTF-8") from None


def parse_query(query: str, max_fields: int) -> dict[str, list[str]]:
    """Parse `a=1&b=2` into lists of values; invalid UTF-8 or too many fields is a 400.

    Blank values (`?name=`) are left out, as Brubeck 0.4 did: its apps rely on
    `get_argument('name', 'dude')` falling back to the default for an empty field.
    """
    arguments: dict[str, list[str]] = {}
    if not query:
        return arguments
    check_percent_encoding(query, "Arguments")
    try:
        pairs = parse_qsl(
            query, keep_blank_values=False, encoding="utf-8", errors="strict",
            max_num_fields=max_fields,
        )
    except UnicodeDecodeError:
        raise BadRequest("Arguments are not valid UTF-8") from None
    except ValueError as error:
        raise BadRequest("Too many arguments", log_message=str(error)) from None
    for name, value in pairs:
        arguments.setdefault(name, []).append(value)
    return arguments


# A charset name as IANA registers them; anything else is refused before lookup.
_CHARSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}")
# Text codecs Python decodes in pure Python, not in time linear in the input
# (punycode), or that refuse every input (undefined).
_REFUSED_CODECS = frozenset({"idna", "punycode", "undefined"})


def _part_text(raw: bytes, charset: str | None) -> str:
    """A multipart text field decoded in its declared charset (UTF-8 when none)."""
    if charset is None:
        codec = "utf-8"
    else:
        try:
            if not _CHARSET_NAME.fullmatch(charset):
                raise LookupError(charset)
            info = codecs.lookup(charset)
        except LookupError:
            info = None
        if info is None or not info._is_text_encoding or info.name in _REFUSED_CODECS:
            raise BadRequest("Multipart field charset is not supported: send UTF-8",
                             log_message=f"charset {charset[:40]!r}")
        codec = info.name
    try:
        return raw.decode(codec)
    except UnicodeError:
        raise BadRequest(f"Multipart field is not valid {codec}") from None


@dataclass(frozen=True)
class RequestCookie:
    """A cookie the client sent; `.value` as 0.4's `message.cookies[name].value`."""

    key: str
    value: str


_CONTROL = {chr(c) for c in range(32) if c != 9} | {chr(127)}


def parse_cookie_header(header: str) -> dict[str, RequestCookie]:
    """Parse `a=1; b="2"` leniently, as browsers send it; control characters are a 400."""
    if not _CONTROL.isdisjoint(header):
        raise BadRequest("Malformed Cookie header")
    cookies: dict[str, RequestCookie] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies[name] = RequestCookie(name, value)
    return cookies


class Request:
    """One HTTP request: method, path, headers, body, and what is parsed from them.

    `transport` is whatever the transport that built it attached (None when
    none did): the Mongrel2 connection keeps the client's sender, connection
    id and disconnect event there, so the request itself stays protocol-free.
    """

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: Headers | Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
        remote_addr: str = "",
        scheme: str = "http",
        version: str = "HTTP/1.1",
        limits: Limits = DEFAULT_LIMITS,
        transport: Any = None,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query_string = query_string
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        self.remote_addr = remote_addr
        self.scheme = scheme
        self.version = version
        self.limits = limits
        self.transport = transport

    def is_disconnected(self) -> bool:
        """Whether the client has gone away, as far as the transport can tell."""
        check = getattr(self.transport, "is_disconnected", None)
        return bool(check()) if check is not None else False

    # -- 0.4 names for what the transport knows (read-only) ----------------------

    @property
    def sender(self) -> str | None:
        """The Mongrel2 server that sent the request (None over other transports)."""
        return getattr(self.transport, "sender", None)

    @property
    def conn_id(self) -> str | None:
        """The client's Mongrel2 connection id (None over other transports)."""
        return getattr(self.transport, "conn_id", None)

    @property
    def client_gone(self) -> Any:
        """The transport's event set when the client disconnects (Mongrel2 only)."""
        try:
            return self.transport.gone
        except AttributeError:
            raise AttributeError("this request's transport has no 'client_gone' event") from None

    @property
    def answered(self) -> bool:
        """True once the transport answered it by other means (a bulk reply)."""
        return bool(getattr(self.transport, "answered", False))

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    # -- arguments ------------------------------------------------------------

    @cached_property
    def query_arguments(self) -> dict[str, list[str]]:
        return parse_query(self.query_string, self.limits.form_fields)

    @cached_property
    def body_arguments(self) -> dict[str, list[str]]:
        if self.content_type == "application/x-www-form-urlencoded":
            try:
                text = self.body.decode("ascii")
            except UnicodeDecodeError:
                raise BadRequest("Form body is not URL-encoded ASCII") from None
            return parse_query(text, self.limits.form_fields)
        if self.content_type == "multipart/form-data":
            return self._multipart[0]
        return {}

    @cached_property
    def arguments(self) -> dict[str, list[str]]:
        """Query and form arguments together, query values first."""
        merged = {name: list(values) for name, values in self.query_arguments.items()}
        for name, values in self.body_arguments.items():
            merged.setdefault(name, []).extend(values)
        return merged

    def get_arguments(self, name: str, strip: bool = True) -> list[str] | None:
        """Every value of argument `name`, or None when it is absent (0.4's contract;
        `request.arguments.get(name, [])` for a list either way)."""
        values = self.arguments.get(name)
        if values is None:
            return None
        return [value.strip() for value in values] if strip else list(values)

    def get_argument(self, name: str, default: str | None = None, strip: bool = True) -> str | None:
        """The last value of argument `name`, or `default` when it is absent."""
        values = self.get_arguments(name, strip=strip)
        return values[-1] if values else default

    # -- bodies -----------------------------------------------------------------

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON (None for an empty body)."""
        if not self.body:
            return None
        return parse_json(self.body, self.limits.json_body, self.limits.json_depth)

    @property
    def files(self) -> dict[str, list[dict[str, Any]]]:
        """Uploaded files by field: dicts of `filename`, `body`, `content_type` (0.4's shape).

        Only a multipart/form-data request has it, as in 0.4, whose apps tell an
        upload by `hasattr(self.message, 'files')`; `uploads` is always there.
        """
        if self.content_type != "multipart/form-data":
            raise AttributeError("'files': not a multipart/form-data request "
                                 "(request.uploads is {} then)")
        return self._multipart[1]

    @property
    def uploads(self) -> dict[str, list[dict[str, Any]]]:
        """`files` on a multipart/form-data request, else {}."""
        return self._multipart[1] if self.content_type == "multipart/form-data" else {}

    @cached_property
    def _multipart(self) -> tuple[dict[str, list[str]], dict[str, list[dict[str, Any]]]]:
        _, options = multipart.parse_options_header(self.headers.get("content-type", ""))
        boundary = options.get("boundary")
        if not boundary:
            raise BadRequest("Multipart body without a boundary")
        fields: dict[str, list[str]] = {}
        files: dict[str, list[dict[str, Any]]] = {}
        limits, file_count = self.limits, 0
        # The body is in memory already: parsed as one chunk, each boundary is
        # found by a forward `find` and each part's bytes are one slice of it,
        # with no buffer growing part by part.
        parser = multipart.PushMultipartParser(
            boundary, content_length=len(self.body),
            max_segment_count=limits.multipart_parts, strict=True,
        )
        segment: Any = None  # the part being read; every event before its end is its data
        pieces: list[bytes] = []
        try:
            with parser:
                for event in parser.parse(self.body):
                    if isinstance(event, multipart.MultipartSegment):
                        segment, pieces = event, []
                    elif event is not None:
                        pieces.append(event)
                    elif segment.filename is None:
                        value = _part_text(b"".join(pieces), segment.charset)
                        fields.setdefault(segment.name, []).append(value)
                    else:
                        file_count += 1
                        if file_count > limits.multipart_files:
                            raise RequestTooLarge(f"More than {limits.multipart_files} files")
                        files.setdefault(segment.name, []).append({
                            "filename": segment.filename,
                            "body": b"".join(pieces),
                            "content_type": segment.content_type or "application/octet-stream",
                        })
        except multipart.ParserLimitReached as error:  # parts (multipart_parts), header sizes
            raise RequestTooLarge(f"Multipart body over a limit: {error}") from None
        except multipart.MultipartError as error:
            raise BadRequest("Malformed multipart body", log_message=str(error)) from None
        return fields, files

    # -- cookies ----------------------------------------------------------------

    @cached_property
    def cookies(self) -> dict[str, RequestCookie]:
        """Cookies sent by the client, as `cookies[name].value` (0.4's shape)."""
        jar: dict[str, RequestCookie] = {}
        for header in self.headers.get_all("cookie"):
            jar.update(parse_cookie_header(header))
        return jar


# -- the one request builder -----------------------------------------------------

#: More digits than any body we would take; bounds the int() of client text.
MAX_LENGTH_DIGITS = 19
#: What `body_length` returns for a chunked body (its length is not known yet).
CHUNKED = -1


def parse_content_length(text: str) -> int | None:
    """A Content-Length value as a number, or None unless it is 1 to 19 ASCII digits.

    ``str.isdigit`` and ``int`` take non-ASCII digits, signs and ``_``; ``int``
    of 5000 digits raises instead of returning.
    """
    if not text or len(text) > MAX_LENGTH_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def body_length(lengths: list[str] | None, codings: list[str] | None, limits: Limits,
                version: str = "HTTP/1.1") -> int | None:
    """How a head frames its body: a length, `CHUNKED`, or None (no body).

    `lengths` and `codings` are every Content-Length and Transfer-Encoding
    value. Ambiguous framing (both, duplicates, a length that is not plain
    digits, Transfer-Encoding in HTTP/1.0) is a 400, a coding other than
    chunked a 501, a length over `limits.body` a 413, all before any body byte
    is read. The servers call this on the head; `build_request` on the headers.
    """
    if codings:
        if version == "HTTP/1.0":
            raise BadRequest("Transfer-Encoding in an HTTP/1.0 request: send Content-Length")
        if lengths:
            raise BadRequest("Content-Length with Transfer-Encoding")
        if len(codings) > 1 or codings[0].strip(" \t").lower() != "chunked":
            raise HTTPError(501, "Only Transfer-Encoding: chunked is supported")
        return CHUNKED
    if not lengths:
        return None
    if len(lengths) > 1:
        raise BadRequest("Duplicate Content-Length")
    length = parse_content_length(lengths[0].strip(" \t"))
    if length is None:
        raise BadRequest("Invalid Content-Length")
    if length > limits.body:
        raise RequestTooLarge(f"Request body over {limits.body} bytes")
    return length


def _server_decoded_path(path: str) -> str:
    """A path the server already percent-decoded, given as Latin-1 text of its bytes (WSGI)."""
    if not path.isascii():
        try:
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise BadRequest("Path is not valid UTF-8") from None
    return check_path(path)


def build_request(method: str, raw_target: str, headers: Headers, body: bytes, *,
                  remote_addr: str = "", scheme: str = "http", version: str = "HTTP/1.1",
                  limits: Limits = DEFAULT_LIMITS, transport: Any = None,
                  declared_length: int | None = None, path: str | None = None,
                  added_headers: int = 0) -> Request:
    """The Request for what a transport read; a request HTTP refuses raises HTTPError.

    Every rule about a parsed request lives here, so each transport applies
    it alike: the request line's length (414), the header count (431), the
    target (percent-encoding, UTF-8 path without NUL, ASCII query: 400), the
    body's framing and size (`body_length`; 411 for a chunked body the
    transport did not decode; 413) and its agreement with Content-Length.

    `raw_target` is the target as sent, percent-encoded, with its `?query`.
    `declared_length` is the body length the transport already settled (it
    checked the head with `body_length` and read or decoded the body); when
    None it is taken from `headers`. `path` is the path a server already
    percent-decoded (WSGI's PATH_INFO: it may differ from the target's under
    a mount point). `added_headers` counts headers the transport added itself
    (Mongrel2's X-Forwarded-For), which the client is not charged for.
    """
    if len(method) + len(raw_target) + len(version) + 4 > limits.request_line:  # 2 SP, CRLF
        raise HTTPError(414, "Request line too long")
    if headers.count_over(limits.header_count + added_headers):
        raise HTTPError(431, "Too many request headers")
    check_percent_encoding(raw_target)
    raw_path, _, query = raw_target.partition("?")
    if not query.isascii():
        raise BadRequest("Query string is not ASCII")
    path = decode_path(raw_path) if path is None else _server_decoded_path(path)
    if declared_length is None:
        length = body_length(headers.get_all("content-length"),
                             headers.get_all("transfer-encoding"), limits, version)
        if length == CHUNKED:
            raise HTTPError(411, "Chunked bodies are not supported here: send a Content-Length")
        declared_length = length or 0
    if len(body) != declared_length:
        if len(body) > limits.body:
            raise RequestTooLarge(f"Request body over {limits.body} bytes")
        raise BadRequest("Body does not match its Content-Length")
    if declared_length > limits.body:
        raise RequestTooLarge(f"Request body over {limits.body} bytes")
    return Request(method, path or "/", query, headers, body, remote_addr, scheme, version,
                   limits, transport)
