"""Streaming responses and Server-Sent Events, the same on every transport.

A handler streams in one of two ways:

* it returns an iterator (a generator) of chunks, or a `StreamingResponse`
  around one: the answer goes through the middleware like any other, then the
  transport sends the head and each chunk as it comes;
* it calls `self.write(chunk)` and `self.flush()` on a green loop: the first
  flush sends the head (the handler's status, headers and cookies) and what
  was written, each later flush what was written since. Middleware `after`
  hooks run when the handler returns and see the stream (status, bytes sent),
  but a header they add cannot reach the client any more: return an iterator
  when one must (CORS, `X-Request-Id`).

The transport gives a request's `transport` object an `open_stream(response)`
method returning a `Sink` (over WSGI, through the server's `write` callable;
behind Mongrel2, as several replies to the one connection). The framing is
the transport's: chunked for HTTP/1.1, else delimited by closing.

Once the client has gone, a send raises `ClientDisconnected`, an `HTTPError`
(499, logged at debug level only) that ends the handler quietly;
`message.is_disconnected()` says so without sending.

`encode_event` writes one `text/event-stream` event in time linear in its
data; `brubeck.sse.EventStreamHandler` builds the rest of SSE on it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from .errors import HTTPError
from .response import Response, header_pairs, to_bytes

if TYPE_CHECKING:
    from .concurrency import Backend
    from .request import Request

log = logging.getLogger("brubeck.streaming")

__all__ = [
    "ClientDisconnected", "Sink", "StreamingResponse", "Writer", "chunk", "encode_event",
    "is_stream", "open_writer",
]

#: The status logged for a stream the client left (nginx's "client closed request").
CLIENT_CLOSED = 499


class ClientDisconnected(HTTPError):
    """The client went away: a send to it is impossible. Ends a handler quietly."""

    def __init__(self) -> None:
        super().__init__(CLIENT_CLOSED, "Client Closed Request")


class Sink(Protocol):
    """A started stream, as a transport keeps it: the head is out."""

    def send(self, data: bytes) -> None:
        """Send one chunk now; `ClientDisconnected` once the client has gone."""

    def end(self) -> None:
        """End the stream (the last chunk of a chunked body, or a close)."""


def is_stream(body: Any) -> bool:
    """A body that is an iterator of chunks (a generator), not bytes or str."""
    return hasattr(body, "__next__")


class StreamingResponse(Response):
    """A response whose body is an iterable of chunks (bytes, or str sent as UTF-8),
    sent as they come; it has no Content-Length.

    `sink` is set once the head has left (by `Writer`, for `write`/`flush`); a
    transport that gets a response without one starts the stream itself.
    """

    __slots__ = ("aborted", "file", "offset", "sent", "sink", "source")

    def __init__(self, body: Iterable[Any] = (), status_code: int = 200,
                 status_msg: str | None = None, headers: Any = None) -> None:
        super().__init__(b"", status_code, status_msg, header_pairs(headers))
        self.source: Iterable[Any] | None = body
        self.sink: Sink | None = None
        self.sent = 0
        #: The handler failed after the head left: the transport cuts the connection
        #: instead of ending the body cleanly, so the client sees it is incomplete.
        self.aborted = False
        # What the WSGI glue's file streaming (`static.stream`) asks of a streamed body.
        self.file = None
        self.offset = 0

    def __repr__(self) -> str:
        return f"<StreamingResponse {self.status_code} {self.sent} bytes sent>"

    def final_headers(self, method: str = "GET") -> list[tuple[str, str]]:
        """The headers without Content-Length: the transport frames the body."""
        return [pair for pair in super().final_headers(method)
                if pair[0] != "Content-Length"]

    def content_length(self) -> int:
        return self.sent

    def payload(self, method: str = "GET") -> bytes:
        """For the WSGI glue: a marker it streams (`chunks`), or nothing when HTTP
        forbids a body (the source is closed then)."""
        if not self.has_body(method):
            self.close()
            return b""
        from .static import FileBody  # the glue's marker for "stream this body"

        marker = FileBody()
        marker.response = self  # type: ignore[assignment]
        return marker

    def has_body(self, method: str = "GET") -> bool:
        """False for HEAD, 1xx, 204 and 304, which HTTP sends without one."""
        return not (method == "HEAD" or self.status_code in (204, 304) or self.status_code < 200)

    def body_size(self, method: str = "GET") -> int:
        return self.sent if self.has_body(method) else 0

    def chunks(self) -> Iterator[bytes]:
        """The body as bytes, empty chunks left out; the source is closed when done
        or abandoned (a generator's `finally` runs when the client leaves)."""
        source, self.source = self.source, None
        if source is None:
            return
        try:
            for item in source:
                data = to_bytes(item)
                if data:
                    self.sent += len(data)
                    yield data
        finally:
            _close(source)

    def close(self) -> None:
        source, self.source = self.source, None
        _close(source)

    def to_http(self, method: str = "GET") -> bytes:
        """The whole stream in one buffer, closed by the connection ending (for a
        transport that cannot stream: read to the end before anything is sent)."""
        headers = [*self.final_headers(method), ("Connection", "close")]
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        start = f"HTTP/1.1 {self.status_line}\r\n{head}\r\n".encode("latin-1")
        if not self.has_body(method):
            self.close()
            return start
        return start + b"".join(self.chunks())


def _close(source: Any) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.exception("closing a streamed body failed")


def head_bytes(response: Response, method: str, framing: tuple[str, str] | None) -> bytes:
    """The head of a streamed response for a transport that writes raw HTTP (Mongrel2),
    with the body's framing header (`Transfer-Encoding: chunked` or `Connection: close`)."""
    headers = response.final_headers(method)
    if framing is not None:
        headers = [pair for pair in headers if pair[0].lower() != framing[0].lower()]
        headers.append(framing)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {response.status_line}\r\n{head}\r\n".encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 7.1); empty `data` is the last chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b"0\r\n\r\n"


# -- write() and flush() ------------------------------------------------------------


class Writer:
    """A handler's stream once its first `flush()` sent the head.

    Sends are serialized (a keep-alive green thread may send between the
    handler's), so a slow client blocks the sender, never interleaves bytes.
    """

    def __init__(self, head: StreamingResponse, sink: Sink, backend: Backend) -> None:
        self.head = head
        self.sink = sink
        self.last_sent = time.monotonic()
        self.closed = False
        self._turn = backend.Queue(1)  # a green lock in the backend's own terms
        self._keepalive: Any = None

    def send(self, data: bytes) -> None:
        if not data:
            return
        if self.closed:
            raise ClientDisconnected()
        self._turn.put(None)
        try:
            self.sink.send(data)
            self.head.sent += len(data)
            self.last_sent = time.monotonic()
        except ClientDisconnected:
            self.closed = True
            raise
        finally:
            self._turn.get()

    def keep_alive(self, backend: Backend, every: float, data: bytes) -> None:
        """Send `data` (an SSE comment) whenever nothing else was sent for `every` s."""
        if every > 0 and self._keepalive is None:
            self._keepalive = backend.spawn(self._beat, backend, every, data)

    def _beat(self, backend: Backend, every: float, data: bytes) -> None:
        while not self.closed:
            idle = time.monotonic() - self.last_sent
            if idle < every:
                backend.sleep(every - idle)
                continue
            try:
                self.send(data)
            except ClientDisconnected:
                return
            except Exception:
                log.exception("keep-alive send failed")
                return

    def finish(self, rest: bytes) -> StreamingResponse:
        """The handler returned: what it wrote since the last flush goes last; the
        transport then ends the stream."""
        if self._keepalive is not None:
            self._keepalive.kill()
            self._keepalive = None
        self.closed = True
        self.head.source = [rest] if rest else ()
        return self.head


def _writer(handler: Any) -> Writer | None:
    writer: Writer | None = vars(handler).get("_stream")
    return writer


def write(handler: Any, chunk: Any) -> None:
    """`handler.write`: append to the body (a dict as JSON, str as UTF-8)."""
    if isinstance(chunk, dict):
        chunk = json.dumps(chunk, separators=(",", ":"))
    data = to_bytes(chunk)
    body = handler.body
    if body.__class__ is not bytearray:
        handler.body = body = bytearray(to_bytes(body))
    body += data


def pending(handler: Any) -> bytes:
    """What was written and not yet flushed, taken from the body."""
    body = handler.body
    handler.body = bytearray()
    return bytes(to_bytes(body))


def flush(handler: Any) -> None:
    """`handler.flush`: send what was written; the first time, with the head. Where the
    transport cannot stream (the in-process test client), this waits for the end."""
    writer = _writer(handler) or open_writer(handler)
    if writer is not None:
        writer.send(pending(handler))


def open_writer(handler: Any) -> Writer | None:
    """Send the head now (the handler's status, headers, cookies); None when the
    transport cannot stream."""
    opener = getattr(handler.message.transport, "open_stream", None)
    if opener is None:
        return None
    handler._default_success()
    headers: list[tuple[str, str]] = list(handler.headers.items())
    if "_cookies" in vars(handler):
        headers.extend(handler.convert_cookies())
    head = StreamingResponse((), handler.status_code, handler.status_msg, headers)
    sink = opener(head)
    if sink is None:
        return None
    head.sink = sink
    writer = Writer(head, sink, handler.application.backend)
    handler._stream = writer
    return writer


def answer(handler: Any, code: int, headers: list[tuple[str, str]]) -> Response:
    """`render()` of a handler that streams: the started stream, finished, or its
    iterator body as a `StreamingResponse`."""
    writer = _writer(handler)
    if writer is not None:
        rest = pending(handler)
        if code != writer.head.status_code:  # an error answer, too late for its page
            writer.head.aborted = code != CLIENT_CLOSED
            rest = b""
        return writer.finish(rest)
    return StreamingResponse(handler.body, code, handler.status_msg, headers)


# -- Server-Sent Events -----------------------------------------------------------------

EVENT_STREAM = "text/event-stream; charset=utf-8"
#: A comment line: ignored by EventSource, it keeps proxies and NAT from closing.
KEEPALIVE = b": keep-alive\n\n"
_FORBIDDEN_IN_FIELDS = frozenset("\r\n\0")


def _field(name: str, value: Any) -> str:
    text = str(value)
    if not _FORBIDDEN_IN_FIELDS.isdisjoint(text):
        raise ValueError(f"an event's {name} cannot hold CR, LF or NUL")
    return text


def encode_event(data: Any, event: str | None = None, id: Any = None,
                 retry: int | None = None) -> bytes:
    """One event: `data` (str; bytes as UTF-8; anything else as JSON) split into one
    `data:` line per line (CRLF, CR and LF all end one), `event`, `id` and `retry`
    fields when given. Linear in the data's length."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    elif not isinstance(data, str):
        data = json.dumps(data, separators=(",", ":"))
    parts = []
    if event is not None:
        parts.append(f"event: {_field('event', event)}\n")
    if id is not None:
        parts.append(f"id: {_field('id', id)}\n")
    if retry is not None:
        if not isinstance(retry, int) or retry < 0:
            raise ValueError("retry is a whole number of milliseconds")
        parts.append(f"retry: {retry}\n")
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    parts.append("data: " + "\ndata: ".join(lines) + "\n\n")
    return "".join(parts).encode("utf-8")


def comment(text: str = "") -> bytes:
    """A comment event (ignored by the client): for keep-alives and padding."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return (": " + "\n: ".join(lines) + "\n\n").encode("utf-8")


def last_event_id(message: Request) -> str | None:
    """The id of the last event a reconnecting EventSource saw (`Last-Event-ID`), or None."""
    value: str | None = message.headers.get("Last-Event-ID")
    if value is None or not _FORBIDDEN_IN_FIELDS.isdisjoint(value):
        return None
    return value
