"""WSGI: the app as a WSGI callable, served by the backend's server or any other."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, HTTPError, RequestTooLarge, loggable
from ..http_checks import Refusal, parse_content_length
from ..limits import Limits
from ..request import Headers, Request, check_path, check_percent_encoding
from ..response import plain_response, wsgi_parts

if TYPE_CHECKING:
    from ..app import Brubeck

log = logging.getLogger("brubeck.wsgi")

_SPECIAL_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


class WSGIConnection:
    """Serve the app over HTTP with the concurrency backend's own WSGI server."""

    def __init__(self, port: int = 6767, host: str = "127.0.0.1") -> None:
        self.port = int(port)
        self.host = host

    def __repr__(self) -> str:
        return f"WSGIConnection(port={self.port}, host={self.host!r})"

    def run(self, application: Brubeck) -> None:
        application.backend.serve_wsgi(application.wsgi, self.host, self.port,
                                       limits=application.limits)


def _read(stream: Any, size: int) -> bytes:
    """Read from the client; a stalled or broken body is the client's error, not a 500."""
    try:
        return stream.read(size)
    except TimeoutError:
        raise HTTPError(408, "Request body not received in time") from None
    except Refusal as refusal:  # our servers' chunked decoder: 400, 413 or 431
        raise HTTPError(refusal.status, refusal.reason) from None
    except (OSError, ValueError) as error:  # another server's chunk framing, early EOF
        raise BadRequest("Malformed request body", log_message=str(error)) from None


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    length_text = environ.get("CONTENT_LENGTH") or ""
    if not length_text and "HTTP_TRANSFER_ENCODING" not in environ:
        return b""  # most requests: nothing to read
    stream = environ.get("wsgi.input")
    if length_text:
        length = parse_content_length(length_text)
        if length is None:
            raise BadRequest("Invalid Content-Length")
        if length > limit:
            raise RequestTooLarge(f"Body over {limit} bytes")
        if not length or stream is None:
            return b""
        body = _read(stream, length)
        if len(body) != length:
            raise BadRequest("Body shorter than its Content-Length")
        return body
    if stream is None or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""
    body = _read(stream, limit + 1)
    if len(body) > limit:
        raise RequestTooLarge(f"Body over {limit} bytes")
    return body


def header_pairs(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request headers in a WSGI environ, as lower-case (name, value) pairs."""
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-").lower(), value))
        elif key in _SPECIAL_HEADERS and value:
            pairs.append((_SPECIAL_HEADERS[key], value))
    return pairs


class EnvironHeaders(Headers):
    """Headers read from the environ the first time a handler looks at them.

    Many handlers never do, and building the map costs as much as routing.
    `_values` is Headers' slot: while unset, reading it lands in __getattr__.
    """

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ

    def __getattr__(self, name: str) -> Any:
        if name != "_values":
            raise AttributeError(name)
        self._values = Headers(header_pairs(self._environ))._values
        return self._values


def request_from_environ(environ: dict[str, Any], limits: Limits) -> Request:
    """Build a Request from a WSGI environ; malformed input raises a 4xx HTTPError."""
    headers = EnvironHeaders(environ)
    # An environ no bigger than the limit cannot hold too many headers: count only then.
    if len(environ) > limits.header_count and len(headers) > limits.header_count:
        raise HTTPError(431, "Too many headers")
    raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI")  # ours, gunicorn, uwsgi
    if raw_target:
        check_percent_encoding(raw_target)
    path = environ.get("PATH_INFO", "/")
    query = environ.get("QUERY_STRING", "")
    if not (path.isascii() and query.isascii()):  # WSGI gives the path's bytes as latin-1
        try:
            path = path.encode("latin-1").decode("utf-8")
            query.encode("ascii")
        except UnicodeError:
            raise BadRequest("Request target is not valid UTF-8") from None
    return Request(
        method=environ["REQUEST_METHOD"],
        path=check_path(path) or "/",
        query_string=query,
        headers=headers,
        body=_read_body(environ, limits.body),
        remote_addr=environ.get("REMOTE_ADDR", ""),
        scheme=environ.get("wsgi.url_scheme", "http"),
        version=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        limits=limits,
    )


def wsgi_app(application: Brubeck, environ: dict[str, Any],
             start_response: Callable) -> Iterable[bytes]:
    """Answer one WSGI request with `application`."""
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        request = request_from_environ(environ, application.limits)
    except HTTPError as err:
        log.info("%s %s refused: %s", loggable(method), loggable(environ.get("PATH_INFO")),
                 loggable(err))
        response = plain_response(err.status_code, err.reason, {"Connection": "close"})
    else:
        response = application.handle(request)
    status, headers, body = wsgi_parts(response, method)
    start_response(status, headers)
    return [body]
