"""WSGI: the app as a WSGI callable, served by the backend's server or any other."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..concurrency.process import shutdown_signals
from ..datastructures import EnvironHeaders
from ..errors import BadRequest, HTTPError
from ..limits import Limits
from ..request import CHUNKED, Request, body_length, build_request
from ..response import refuse, wsgi_parts

if TYPE_CHECKING:
    from ..app import Brubeck

log = logging.getLogger("brubeck.wsgi")

__all__ = ["EnvironHeaders", "WSGIConnection", "request_from_environ", "wsgi_app"]


class WSGIConnection:
    """Serve the app over HTTP with the concurrency backend's own WSGI server.

    `bind` listens first (or adopts the supervisor's socket), so a taken port
    fails before the app says it is online; `run` serves until SIGINT or
    SIGTERM, then drains within the app's `shutdown_timeout`.
    """

    def __init__(self, port: int = 6767, host: str = "127.0.0.1") -> None:
        self.port = int(port)
        self.host = host
        self._listener: Any = None

    def __repr__(self) -> str:
        return f"WSGIConnection(port={self.port}, host={self.host!r})"

    def bind(self, application: Brubeck) -> None:
        """Listen on the address (a taken port raises `process.ListenError`)."""
        if self._listener is None:
            self._listener = application.backend.listen(self.host, self.port)

    def run(self, application: Brubeck) -> None:
        self.bind(application)
        listener, self._listener = self._listener, None
        def draining() -> None:
            application.draining = True

        with shutdown_signals(application.shutdown_timeout, draining) as shutdown:
            application.backend.serve_wsgi(application.wsgi, self.host, self.port,
                                           sock=listener, limits=application.limits,
                                           shutdown=shutdown)


def _read(stream: Any, size: int) -> bytes:
    """Read from the client; a stalled or broken body is the client's error, not a 500."""
    try:
        data: bytes = stream.read(size)
        return data
    except HTTPError:  # our servers' chunked decoder refuses with 400, 413 or 431
        raise
    except TimeoutError:
        raise HTTPError(408, "Request body not received in time") from None
    except (OSError, ValueError) as error:  # another server's chunk framing, early EOF
        raise BadRequest("Malformed request body", log_message=str(error)) from None


def _read_body(environ: dict[str, Any], limits: Limits) -> tuple[bytes, int]:
    """The body and its length, read only after the head's framing allowed it (413 first)."""
    length_text = environ.get("CONTENT_LENGTH") or ""
    coding = environ.get("HTTP_TRANSFER_ENCODING")
    if not length_text and coding is None:
        return b"", 0  # most requests: nothing to read
    # No version: eventlet reports HTTP/1.0 for every request; the server's own
    # head check already held the request line's version against the framing.
    length = body_length([length_text] if length_text else None,
                         [coding] if coding is not None else None, limits)
    stream = environ.get("wsgi.input")
    if stream is None or not length:
        return b"", 0
    if length == CHUNKED:  # the server decodes it; read one byte past the limit to tell
        body = _read(stream, limits.body + 1)
        return body, len(body)
    body = _read(stream, length)
    if len(body) != length:
        raise BadRequest("Body shorter than its Content-Length")
    return body, length


def request_from_environ(environ: dict[str, Any], limits: Limits) -> Request:
    """Build a Request from a WSGI environ; malformed input raises a 4xx HTTPError."""
    query = environ.get("QUERY_STRING", "")
    # The target as sent (ours, gunicorn, uwsgi); the path the server decoded
    # is PATH_INFO, which under a mount point is only the target's tail.
    raw_target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or \
        (f"?{query}" if query else "")
    body, length = _read_body(environ, limits)
    return build_request(
        environ["REQUEST_METHOD"], raw_target, EnvironHeaders(environ), body,
        remote_addr=environ.get("REMOTE_ADDR", ""),
        scheme=environ.get("wsgi.url_scheme", "http"),
        version=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        limits=limits, declared_length=length, path=environ.get("PATH_INFO", "/"),
    )


def wsgi_app(application: Brubeck, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer one WSGI request with `application`."""
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        request = request_from_environ(environ, application.limits)
    except HTTPError as err:
        response = refuse(err, f"{method} {environ.get('PATH_INFO', '')}",
                          environ.get("REMOTE_ADDR", "-"), log)
    else:
        response = application.handle(request)
    status, headers, body = wsgi_parts(response, method)
    start_response(status, headers)
    return [body]
