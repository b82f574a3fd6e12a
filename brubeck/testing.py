"""Test clients: the same request API in process (through the real connection code)
or over a socket against a running server.

    client = TestClient(app)                 # through app's WSGI callable
    client = LiveClient("http://127.0.0.1:8000")
    response = client.post("/login", data={"username": "jd"})
    assert response.status_code == 302

Both keep cookies between requests, as a browser would.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json as jsonlib
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from .datastructures import Headers
from .request import parse_cookie_header

FileSpec = tuple[str, bytes] | tuple[str, bytes, str]


class TestResponse:
    """What came back: status, headers (case-insensitive), body."""

    __test__ = False  # not a pytest test class

    def __init__(self, status_code: int, reason: str, headers: Iterable[tuple[str, str]],
                 body: bytes) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = Headers(list(headers))
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code} {self.reason}>"


def encode_body(data: Mapping[str, Any] | bytes | str | None, json: Any,
                files: Mapping[str, FileSpec] | None) -> tuple[bytes, str | None]:
    """Body bytes and Content-Type for form data, JSON or a multipart upload."""
    if json is not None:
        return jsonlib.dumps(json).encode(), "application/json"
    if files:
        boundary = uuid.uuid4().hex
        out = io.BytesIO()
        fields = data if isinstance(data, Mapping) else {}
        for name, value in fields.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                          f'\r\n\r\n{item}\r\n'.encode())
        for name, spec in files.items():
            filename, content = spec[0], spec[1]
            content_type = spec[2] if len(spec) > 2 else "application/octet-stream"
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                      f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode())
            out.write(content + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        return out.getvalue(), f"multipart/form-data; boundary={boundary}"
    if isinstance(data, Mapping):
        return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    if isinstance(data, str):
        return data.encode(), None
    return data or b"", None


class _Client:
    """Shared request building and cookie keeping; subclasses send."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def _send(self, method: str, target: str, headers: list[tuple[str, str]],
              body: bytes) -> TestResponse:
        raise NotImplementedError

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | bytes | str | None = None,
        json: Any = None,
        files: Mapping[str, FileSpec] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TestResponse:
        body, content_type = encode_body(data, json, files)
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path
        pairs = list((headers or {}).items())
        names = {name.lower() for name, _ in pairs}
        if content_type and "content-type" not in names:
            pairs.append(("Content-Type", content_type))
        if self.cookies and "cookie" not in names:
            pairs.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))
        response = self._send(method.upper(), target, pairs, body)
        self._keep_cookies(response)
        return response

    def _keep_cookies(self, response: TestResponse) -> None:
        for header in response.headers.get_all("set-cookie"):
            first, *attributes = header.split(";")
            name, _, value = first.strip().partition("=")
            expired = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
            if expired or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def cookie(self, name: str) -> str | None:
        return parse_cookie_header(f"{name}={self.cookies[name]}")[name].value \
            if name in self.cookies else None

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("HEAD", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("OPTIONS", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


class TestClient(_Client):
    """Sends requests in process through the app's WSGI callable (the real WSGI code)."""

    __test__ = False

    def __init__(self, app: Callable[..., Any], remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        self.app = app
        self.remote_addr = remote_addr

    def websocket(self, path: str, headers: Mapping[str, str] | None = None,
                  subprotocols: Iterable[str] = ()) -> InProcessWebSocket:
        """Open a WebSocket to `path` in process (raises `WebSocketRefused` unless 101)."""
        return _in_process_websocket(self, path, headers, subprotocols)

    def _send(self, method: str, target: str, headers: list[tuple[str, str]],
              body: bytes) -> TestResponse:
        path, _, query = target.partition("?")
        from urllib.parse import unquote_to_bytes

        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "HTTP_HOST": "testserver",  # as every HTTP/1.1 client sends; a header given wins
        }
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]],
                           exc_info: Any = None) -> None:
            started[:] = [status, response_headers]

        chunks = self.app(environ, start_response)
        payload = b"".join(chunks)
        code, _, reason = started[0].partition(" ")
        return TestResponse(int(code), reason, started[1], payload)


def _in_process_websocket(client: TestClient, path: str, headers: Mapping[str, str] | None,
                          subprotocols: Iterable[str]) -> InProcessWebSocket:
    """The handshake through `brubeck.websocket.upgrade`, then the handler's session."""
    import base64
    import os

    from .request import build_request
    from .websocket import upgrade

    app: Any = client.app
    extra = _handshake_headers(client, path, headers, subprotocols)
    given = {name.lower() for name, _ in extra}
    defaults = [("Host", "testserver"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
                ("Sec-WebSocket-Version", "13")]
    pairs = [(k, v) for k, v in defaults if k.lower() not in given] + extra
    request = build_request("GET", path, Headers(pairs), b"", remote_addr=client.remote_addr,
                            limits=app.limits)
    outcome = upgrade(app, request)
    if outcome is None:
        response = app.handle(request)
    elif not hasattr(outcome, "start"):
        response = outcome
    else:
        transport = _MemoryTransport(app.backend)
        outcome.start(transport)
        return InProcessWebSocket(outcome, transport, app.backend)
    raise WebSocketRefused(TestResponse(response.status_code, response.status_msg,
                                        response.headers, response.body))


class LiveClient(_Client):
    """Sends requests over one keep-alive HTTP connection to a running server."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        super().__init__()
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def websocket(self, path: str, headers: Mapping[str, str] | None = None,
                  subprotocols: Iterable[str] = ()) -> LiveWebSocket:
        """Open a WebSocket to `path` on the server (raises `WebSocketRefused` unless 101)."""
        extra = _handshake_headers(self, path, headers, subprotocols)
        extra = [(k, v) for k, v in extra if k.lower() != "sec-websocket-protocol"]
        return LiveWebSocket(self.host, self.port, path, extra, list(subprotocols), self.timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, method: str, target: str, headers: list[tuple[str, str]],
              body: bytes) -> TestResponse:
        for attempt in (1, 2):  # a keep-alive connection the server closed: retry once
            conn = self._connection()
            try:
                conn.putrequest(method, target, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                if body or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                reply = conn.getresponse()
                payload = reply.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if reply.will_close:
                self.close()
            return TestResponse(reply.status, reply.reason, reply.getheaders(), payload)
        raise AssertionError("unreachable")


# -- WebSockets -------------------------------------------------------------------------


class WebSocketRefused(Exception):
    """The server answered the handshake with `response` instead of 101."""

    def __init__(self, response: TestResponse) -> None:
        super().__init__(f"WebSocket handshake refused: {response.status_code} {response.reason}")
        self.response = response
        self.status_code = response.status_code


class WebSocketSession:
    """A test's end of one WebSocket: `send`, `receive`, `ping`, `close`.

    `receive()` answers pings itself and returns None once the connection is
    closed; `close_code` and `close_reason` are then the server's (1006 when the
    connection dropped without a close frame).
    """

    subprotocol: str | None = None
    headers: Headers
    close_code: int | None = None
    close_reason: str | None = None
    pongs: list[bytes]

    def send(self, message: str | bytes) -> None:
        raise NotImplementedError

    def receive(self, timeout: float | None = 10.0) -> str | bytes | None:
        raise NotImplementedError

    def ping(self, data: bytes = b"") -> None:
        raise NotImplementedError

    def close(self, code: int = 1000, reason: str = "") -> None:
        raise NotImplementedError

    def __enter__(self) -> WebSocketSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handshake_headers(client: _Client, path: str, headers: Mapping[str, str] | None,
                       subprotocols: Iterable[str]) -> list[tuple[str, str]]:
    """Extra handshake headers: the caller's, the client's cookies, the subprotocols."""
    pairs = list((headers or {}).items())
    names = {name.lower() for name, _ in pairs}
    if client.cookies and "cookie" not in names:
        pairs.append(("Cookie", "; ".join(f"{k}={v}" for k, v in client.cookies.items())))
    offered = list(subprotocols)
    if offered:
        pairs.append(("Sec-WebSocket-Protocol", ", ".join(offered)))
    return pairs


class _MemoryTransport:
    """The in-process transport: what the handler sends goes to the test's queue."""

    def __init__(self, backend: Any) -> None:
        self.events = backend.Queue()
        self.closed = False

    def _put(self, *event: Any) -> None:
        from .websocket import WebSocketClosed

        if self.closed:
            raise WebSocketClosed("the WebSocket is closed")
        self.events.put(event)

    def send_message(self, message: str | bytes) -> None:
        self._put("message", message)

    def send_ping(self, data: bytes) -> None:
        self._put("ping", data)

    def send_pong(self, data: bytes) -> None:
        self._put("pong", data)

    def send_close(self, code: int | None, reason: str) -> None:
        self._put("close", code, reason)

    def abort(self) -> None:
        self._put("lost")
        self.closed = True


class InProcessWebSocket(WebSocketSession):
    """A WebSocket to a handler in this process: no socket, no framing, the real handler."""

    def __init__(self, handler: Any, transport: _MemoryTransport, backend: Any) -> None:
        self.handler = handler
        self.transport = transport
        self.backend = backend
        self.subprotocol = handler.subprotocol
        self.headers = Headers([])
        self.pongs = []
        self._closed = False
        self._sent_close = False

    def send(self, message: str | bytes) -> None:
        self.handler.feed_message(message)

    def ping(self, data: bytes = b"") -> None:
        self.handler.feed_ping(data)

    def receive(self, timeout: float | None = 10.0) -> str | bytes | None:
        while not self._closed:
            got: list[Any] = []
            with self.backend.Timeout(timeout, False):
                got.append(self.transport.events.get())
            if not got:
                raise TimeoutError(f"no WebSocket message within {timeout} s")
            kind, *rest = got[0]
            if kind == "message":
                return rest[0]  # type: ignore[no-any-return]
            if kind == "ping":
                self.handler.feed_pong(rest[0])
            elif kind == "pong":
                self.pongs.append(rest[0])
            elif kind == "close":
                self._closed = True
                self.close_code, self.close_reason = rest[0], rest[1]
                if not self._sent_close:
                    self.handler.feed_close(rest[0], "")
            else:
                self._closed = True
                self.close_code = 1006
        return None

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed or self._sent_close:
            return
        self._sent_close = True
        self.handler.feed_close(code, reason)
        with contextlib.suppress(TimeoutError):
            while self.receive(5.0) is not None:
                pass
        self.handler.wait_closed(5.0)
        self.transport.closed = True


class LiveWebSocket(WebSocketSession):
    """A WebSocket over a real socket, framed by wsproto (the `websocket` extra)."""

    def __init__(self, host: str, port: int, path: str, extra: list[tuple[str, str]],
                 subprotocols: list[str], timeout: float) -> None:
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request as Handshake

        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.pongs = []
        self._pending: list[Any] = []
        self._parts: list[Any] = []
        self._closed = False
        self.sock.sendall(self.ws.send(Handshake(
            host=f"{host}:{port}", target=path, subprotocols=subprotocols,
            extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra])))
        self._handshake()

    def _events(self, timeout: float | None) -> Any:
        from wsproto.utilities import RemoteProtocolError

        while not self._pending:
            self.sock.settimeout(timeout)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(f"nothing from the server within {timeout} s") from None
            except OSError:
                data = b""
            try:
                self.ws.receive_data(data or None)
                self._pending.extend(self.ws.events())
            except RemoteProtocolError as error:  # e.g. closed before answering the handshake
                raise ConnectionError(f"WebSocket server broke the protocol: {error}") from None
        return self._pending.pop(0)

    def _handshake(self) -> None:
        from wsproto.events import AcceptConnection, RejectConnection, RejectData

        event = self._events(self.timeout)
        if isinstance(event, AcceptConnection):
            self.subprotocol = event.subprotocol
            self.headers = Headers([(k.decode("latin-1"), v.decode("latin-1"))
                                    for k, v in event.extra_headers])
            return
        if not isinstance(event, RejectConnection):
            raise AssertionError(f"unexpected handshake answer {event!r}")
        body = b""
        while event.has_body:
            data = self._events(self.timeout)
            if not isinstance(data, RejectData):
                break
            body += data.data
            if data.body_finished:
                break
        self.sock.close()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
        raise WebSocketRefused(TestResponse(event.status_code, "", headers, body))

    def send(self, message: str | bytes) -> None:
        from wsproto.events import BytesMessage, TextMessage

        event = TextMessage(data=message) if isinstance(message, str) \
            else BytesMessage(data=message)
        self.sock.sendall(self.ws.send(event))

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are (hand-made frames, for protocol tests)."""
        self.sock.sendall(data)

    def ping(self, data: bytes = b"") -> None:
        from wsproto.events import Ping

        self.sock.sendall(self.ws.send(Ping(payload=data)))

    def receive(self, timeout: float | None = 10.0) -> str | bytes | None:
        from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

        while not self._closed:
            event = self._events(timeout)
            if isinstance(event, (TextMessage, BytesMessage)):
                self._parts.append(event.data)
                if event.message_finished:
                    parts, self._parts = self._parts, []
                    return "".join(parts) if isinstance(event, TextMessage) \
                        else b"".join(parts)
            elif isinstance(event, Ping):
                if self.ws.state.name == "OPEN":  # closing: our Close answers it (RFC 6455 5.5.1)
                    with contextlib.suppress(OSError):
                        self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, Pong):
                self.pongs.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self._closed = True
                self.close_code, self.close_reason = int(event.code), event.reason
                if self.ws.state.name == "REMOTE_CLOSING":
                    with contextlib.suppress(OSError):
                        self.sock.sendall(self.ws.send(event.response()))
        return None

    def close(self, code: int = 1000, reason: str = "") -> None:
        from wsproto.events import CloseConnection

        if not self._closed and self.ws.state.name == "OPEN":
            with contextlib.suppress(OSError):
                self.sock.sendall(self.ws.send(CloseConnection(code=code, reason=reason)))
            with contextlib.suppress(TimeoutError, OSError):
                while self.receive(5.0) is not None:
                    pass
        self._closed = True
        self.sock.close()

    def wait_eof(self, timeout: float = 10.0) -> bytes:
        """Read until the server closes TCP; returns what came (protocol tests)."""
        self.sock.settimeout(timeout)
        data = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                data += chunk
        return data
