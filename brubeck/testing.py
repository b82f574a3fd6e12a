"""Test clients: the same request API in process (through the real connection code)
or over a socket against a running server.

    client = TestClient(app)                 # through app's WSGI callable
    client = LiveClient("http://127.0.0.1:8000")
    response = client.post("/login", data={"username": "jd"})
    assert response.status_code == 302

Both keep cookies between requests, as a browser would.
"""

from __future__ import annotations

import http.client
import io
import json as jsonlib
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
