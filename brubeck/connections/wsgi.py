"""WSGI: the app as a WSGI callable, served by the backend's server or any other.

Each request's `transport` is a `WSGIClient`: it tells a handler its client
has gone (`message.is_disconnected()`, `message.client_gone`) by peeking at
the connection's socket (`brubeck.socket` from Brubeck's servers, or
gunicorn's), and starts streams (`brubeck.streaming`) through the server's
`write` callable, which sends at once: chunked for HTTP/1.1, else until close.
"""

from __future__ import annotations

import _socket
import contextlib
import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..concurrency.process import shutdown_signals
from ..datastructures import EnvironHeaders
from ..errors import BadRequest, HTTPError
from ..limits import Limits
from ..request import CHUNKED, Request, body_length, build_request
from ..response import Response, refuse, wsgi_parts
from ..streaming import ClientDisconnected, StreamingResponse

if TYPE_CHECKING:
    from ..app import Brubeck
    from ..concurrency import Backend

log = logging.getLogger("brubeck.wsgi")

__all__ = ["EnvironHeaders", "WSGIClient", "WSGIConnection", "request_from_environ", "wsgi_app"]

#: Seconds between looks at a connection that has bytes waiting (a pipelined request),
#: or at one whose server gave no way to wait for it to be readable.
POLL_INTERVAL = 0.5
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


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


def peer_closed(sock: Any) -> bool:
    """Whether the client closed (or reset) the connection: a non-blocking peek reads EOF.

    Bytes waiting (a pipelined request) mean it is still there; so does a socket
    of an unknown kind, which cannot be peeked at without blocking.
    """
    raw = sock
    for _ in range(3):  # eventlet's `fd`, gevent's `_sock` (a green socket may wrap another)
        if isinstance(raw, _socket.socket):
            break
        raw = getattr(raw, "fd", None) or getattr(raw, "_sock", None)
    else:
        return False
    try:
        return raw.recv(1, _PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:  # reset, or closed here
        return True


class WSGIClient:
    """`request.transport` over WSGI: disconnect detection and streams for one request."""

    __slots__ = ("_gone", "_watcher", "backend", "buffered", "environ", "method",
                 "sink", "start_response")

    def __init__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 backend: Backend) -> None:
        self.environ = environ
        self.start_response = start_response
        self.backend = backend
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.sink: WSGISink | None = None
        self.buffered: list[bytes] | None = None
        self._gone: Any = None
        self._watcher: Any = None

    @property
    def socket(self) -> Any:
        return self.environ.get("brubeck.socket") or self.environ.get("gunicorn.socket")

    def is_disconnected(self) -> bool:
        if self._gone is not None and self._gone.is_set():
            return True
        sock = self.socket
        return sock is not None and peer_closed(sock)

    @property
    def gone(self) -> Any:
        """An event set when the client goes away (0.4's `client_gone`), watched by a green
        thread started on first use, which waits for the socket to be readable."""
        if self._gone is None:
            self._gone = self.backend.Event()
            sock = self.socket
            if sock is not None:
                self._watcher = self.backend.spawn(self._watch, sock)
        return self._gone

    def _watch(self, sock: Any) -> None:
        wait = self.environ.get("brubeck.wait_readable")
        while True:
            if wait is not None:
                wait(sock)
            if peer_closed(sock):
                break
            self.backend.sleep(POLL_INTERVAL)
        self._gone.set()

    def close(self) -> None:
        """The request is answered: stop watching its socket (the server reads it next)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.kill()

    def open_stream(self, response: StreamingResponse) -> WSGISink:
        """Send the head now through the server's `write` callable (a server without one,
        like the in-process test client, gets the body at the end)."""
        status, headers, _ = wsgi_parts(response, self.method)
        write = self.start_response(status, headers)
        if not callable(write):
            self.buffered = []
            write = self.buffered.append
        self.sink = WSGISink(write, response.has_body(self.method), self)
        return self.sink

    def stream(self, response: StreamingResponse) -> Iterable[bytes]:
        """The WSGI answer of a streamed response: the rest of a started stream, else
        the head now and the body as the server iterates it."""
        sink = self.sink if response.sink is not None else None
        if sink is None:
            # eventlet.wsgi would gather small chunks into 4 KiB writes.
            self.environ["eventlet.minimum_write_chunk_size"] = 0
            if response.has_body(self.method):
                response.source = self._watched(response.source or ())
            else:
                self.close()
            status, headers, body = wsgi_parts(response, self.method)
            self.start_response(status, headers)
            return [body]
        try:
            for data in response.chunks():
                sink.send(data)
            if response.aborted:
                self._cut()
            else:
                sink.end()
        except ClientDisconnected:
            pass
        finally:
            self.close()
        return self.buffered or []

    def _watched(self, source: Iterable[Any]) -> Iterator[Any]:
        try:
            yield from source
        finally:
            self.close()

    def _cut(self) -> None:
        """End a failed stream without its last chunk: the client sees it is incomplete."""
        sock = self.socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class WSGISink:
    """A started stream over WSGI: each send is one `write`, out at once."""

    __slots__ = ("body", "client", "write")

    def __init__(self, write: Callable[[bytes], Any], body: bool, client: WSGIClient) -> None:
        self.write = write
        self.body = body
        self.client = client

    def send(self, data: bytes) -> None:
        if not self.body:
            return  # HEAD, 204, 304: the head was all
        try:
            self.write(data)
        except (OSError, ValueError) as error:  # a gone client, a server's closed file
            log.debug("stream to %s ended: %s", self.client.environ.get("REMOTE_ADDR"), error)
            raise ClientDisconnected() from None

    def end(self) -> None:
        # eventlet ends a chunked body it was given by `write` only on an empty write;
        # gevent and gunicorn ignore one and end the body when the app returns.
        with contextlib.suppress(OSError, ValueError):
            self.write(b"")


def request_from_environ(environ: dict[str, Any], limits: Limits,
                         transport: Any = None) -> Request:
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
        transport=transport,
    )


def wsgi_app(application: Brubeck, environ: dict[str, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer one WSGI request with `application`."""
    method = environ.get("REQUEST_METHOD", "GET")
    client = WSGIClient(environ, start_response, application.backend)
    response: Response
    try:
        request = request_from_environ(environ, application.limits, client)
    except HTTPError as err:
        response = refuse(err, f"{method} {environ.get('PATH_INFO', '')}",
                          environ.get("REMOTE_ADDR", "-"), log)
    else:
        response = application.handle(request)
        if isinstance(response, StreamingResponse):
            return client.stream(response)
        client.close()
    status, headers, body = wsgi_parts(response, method)
    start_response(status, headers)
    return [body]
