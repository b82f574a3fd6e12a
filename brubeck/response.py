"""What a handler answers, and its one-write serialization.

`Response` is protocol-free; connections ask it for WSGI parts or for the raw
HTTP/1.1 bytes that Mongrel2 forwards unparsed. Because Mongrel2 never checks
a reply, the checks live here: a correct Content-Length, no body where HTTP
forbids one, and no CR/LF smuggled into a header. Every response also gets
`X-Content-Type-Options: nosniff` (unless it set the header itself), so a
browser never runs an upload or a JSON body as HTML or script.

`http_response` and `render` are Brubeck 0.4's helpers for function routes and
keep their 0.4 return types (HTTP text and a dict).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import HTTPError, loggable, reason_phrase

log = logging.getLogger("brubeck.response")

HeaderInput = Mapping[str, Any] | Iterable[tuple[str, Any]] | None

DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"
_BODYLESS_STATUS = frozenset((204, 304))
_FORBIDDEN_IN_HEADERS = frozenset("\r\n\0")
#: A header name `check_header` accepts, in one match (it runs for every header sent).
_SAFE_NAME = re.compile("[^\r\n\0: ]+")
NOSNIFF = ("X-Content-Type-Options", "nosniff")
#: The header names (lower case) `final_headers` decides about.
_SETTLED_HERE = frozenset({"content-length", "content-type", "x-content-type-options"})


def to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if value is None:
        return b""
    return str(value).encode("utf-8")


def check_header(name: str, value: str) -> None:
    """Refuse header names/values that would split or smuggle a response."""
    if not name or not _FORBIDDEN_IN_HEADERS.isdisjoint(name) or ":" in name or " " in name:
        raise ValueError(f"invalid response header name {name!r}")
    if not _FORBIDDEN_IN_HEADERS.isdisjoint(value):
        raise ValueError(f"CR/LF in response header {name!r}")


def header_pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    """Normalise a dict or list of header pairs, expanding multi-line 0.4 Set-Cookie values."""
    if not headers:
        return []
    # A list is the common case; checking it first skips the slower Mapping (ABC) check.
    items = headers if isinstance(headers, list) else \
        headers.items() if isinstance(headers, Mapping) else headers
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, (list, tuple)):
            pairs.extend((str(name), str(v)) for v in value)
        else:
            pairs.append((str(name), str(value)))
    return pairs


class Response:
    """Status, headers and body; serialized once, in one buffer."""

    __slots__ = ("body", "headers", "status_code", "status_msg")

    def __init__(
        self,
        body: Any = b"",
        status_code: int = 200,
        status_msg: str | None = None,
        headers: HeaderInput = None,
    ) -> None:
        self.status_code = int(status_code)
        self.status_msg = status_msg or reason_phrase(self.status_code)
        self.headers = header_pairs(headers)
        self.body = to_bytes(body)

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.status_msg} {len(self.body)} bytes>"

    # Brubeck 0.4 returned a dict from render(); keep `response['body']` working.
    def __getitem__(self, key: str) -> Any:
        if key not in ("body", "status_code", "status_msg", "headers"):
            raise KeyError(key)
        return getattr(self, key)

    def get_header(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    def final_headers(self, method: str = "GET") -> list[tuple[str, str]]:
        """Validated headers with Content-Length, Content-Type and nosniff settled."""
        pairs: list[tuple[str, str]] = []
        has_type = has_nosniff = False
        for pair in self.headers:
            name, value = pair
            if not _SAFE_NAME.fullmatch(name) or not _FORBIDDEN_IN_HEADERS.isdisjoint(value):
                check_header(name, value)  # raises, saying what is wrong
            lowered = name.lower()
            if lowered in _SETTLED_HERE:
                if lowered == "content-length":
                    continue
                if lowered == "content-type":
                    has_type = True
                else:
                    has_nosniff = True
            pairs.append(pair)
        if "\n" in self.status_msg or "\r" in self.status_msg:
            raise ValueError("CR/LF in status message")
        if not has_nosniff:
            pairs.append(NOSNIFF)
        if self.status_code in _BODYLESS_STATUS or self.status_code < 200:
            return pairs
        length = self.content_length()
        if length and not has_type:
            pairs.append(("Content-Type", DEFAULT_CONTENT_TYPE))
        pairs.append(("Content-Length", str(length)))
        return pairs

    def content_length(self) -> int:
        """The length of the whole body (a file response's is not in memory)."""
        return len(self.body)

    def body_size(self, method: str = "GET") -> int:
        """How many body bytes go to the client (for access logs and metrics)."""
        if method == "HEAD" or self.status_code in _BODYLESS_STATUS or self.status_code < 200:
            return 0
        return self.content_length()

    def payload(self, method: str = "GET") -> bytes:
        """The body as sent: nothing for HEAD, 204, 304 and 1xx."""
        if method == "HEAD" or self.status_code in _BODYLESS_STATUS or self.status_code < 200:
            return b""
        return self.body

    @property
    def status_line(self) -> str:
        return f"{self.status_code} {self.status_msg}"

    def to_http(self, method: str = "GET") -> bytes:
        """The whole HTTP/1.1 response as one buffer (Mongrel2 forwards it as is)."""
        head = "".join(f"{name}: {value}\r\n" for name, value in self.final_headers(method))
        start = f"HTTP/1.1 {self.status_line}\r\n{head}\r\n"
        return start.encode("latin-1") + self.payload(method)


def parse_http(text: str | bytes) -> Response:
    """Turn 0.4-style HTTP text (from `http_response`) back into a Response."""
    raw = to_bytes(text)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status_code = int(parts[1])
    except (IndexError, ValueError):
        raise ValueError(f"not an HTTP status line: {lines[0]!r}") from None
    status_msg = parts[2] if len(parts) > 2 else None
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() != "content-length":
            headers.append((name.strip(), value.strip()))
    return Response(body, status_code, status_msg, headers)


def to_response(result: Any) -> Response:
    """Coerce anything a handler may return (Response, 0.4 dict, HTTP text, body)."""
    if isinstance(result, Response):
        return result
    if isinstance(result, Mapping) and "status_code" in result:
        return Response(
            result.get("body", b""), result["status_code"], result.get("status_msg"),
            result.get("headers"),
        )
    if isinstance(result, (str, bytes)) and result[:7] in ("HTTP/1.", b"HTTP/1."):
        built = getattr(result, "response", None)  # from http_response: no re-parse
        return built if isinstance(built, Response) else parse_http(result)
    return Response(result)


HTTP_FORMAT = "HTTP/1.1 %(code)s %(status)s\r\n%(headers)s\r\n\r\n%(body)s"


class HTTPText(str):
    """0.4's HTTP text, remembering the Response it describes so it is not parsed back."""

    response: Response


class HTTPBytes(bytes):
    """The same, for a bytes body."""

    response: Response


def http_response(body: Any, code: int, status: str, headers: dict[str, Any]) -> str | bytes:
    """Brubeck 0.4's helper: the response as HTTP text, Content-Length included."""
    encoded = to_bytes(body)
    headers["Content-Length"] = len(encoded)
    head = "\r\n".join(f"{name}: {value}" for name, value in headers.items())
    text: HTTPText | HTTPBytes
    if isinstance(body, bytes):
        text = HTTPBytes(f"HTTP/1.1 {code} {status}\r\n{head}\r\n\r\n".encode("latin-1") + body)
    else:
        text = HTTPText(f"HTTP/1.1 {code} {status}\r\n{head}\r\n\r\n{'' if body is None else body}")
    text.response = Response(encoded, code, status, headers)
    return text


def render(body: Any, status_code: int, status_msg: str, headers: dict[str, Any]) -> dict[str, Any]:
    """Brubeck 0.4's helper: the parts of a response as a dict."""
    return {
        "body": body,
        "status_code": status_code,
        "status_msg": status_msg,
        "headers": headers,
    }


def plain_response(status_code: int, reason: str | None = None,
                   headers: HeaderInput = None) -> Response:
    """A short text response for errors that happen before any handler runs."""
    text = reason or reason_phrase(status_code)
    pairs = [("Content-Type", "text/plain; charset=utf-8"), *header_pairs(headers)]
    return Response(f"{status_code} {text}\n", status_code, text, pairs)


def refusal_response(status_code: int, reason: str | None = None) -> Response:
    """A request refused before any handler ran: a short text, and the connection closes."""
    return plain_response(status_code, reason, [("Connection", "close")])


def refuse(error: HTTPError, request_line: object, client: object = "-",
           logger: logging.Logger = log) -> Response:
    """The one refusal every transport makes: one escaped log line, then `refusal_response`.

    `request_line` (or what the transport has of it) is client text, cut to 200
    characters and escaped, so a refused request cannot forge log lines.
    """
    logger.info("refused %s %s: %s", client, loggable(str(request_line)[:200]), loggable(error))
    return refusal_response(error.status_code, error.reason)


def wsgi_parts(response: Response, method: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body for a WSGI server; an unsendable response becomes 500."""
    try:
        headers = response.final_headers(method)
    except ValueError as error:
        log.error("refused to send %r: %s", response, error)
        response = plain_response(500)
        headers = response.final_headers(method)
    return response.status_line, headers, response.payload(method)


def http_bytes(response: Response, method: str) -> bytes:
    """The raw HTTP/1.1 bytes of a response; an unsendable response becomes 500."""
    try:
        return response.to_http(method)
    except ValueError as error:
        log.error("refused to send %r: %s", response, error)
        return plain_response(500).to_http(method)
