"""Mongrel2's wire format, without I/O: parse what it pushes, frame what we publish.

A request is `SENDER CONN_ID PATH LEN:HEADERS,LEN:BODY,` where HEADERS is a
tnetstring dict (handler `protocol='tnetstring'`) or JSON text in a netstring
(the default `json` protocol). Both carry raw client bytes; JSON also carries
raw control characters and lists for repeated headers, so it is read leniently
as Latin-1. Header values come out as Latin-1 strings, as WSGI gives them.

Uploads bigger than Mongrel2's `limits.content_length` arrive twice: first
with `x-mongrel2-upload-start: PATH`, then with `x-mongrel2-upload-done: PATH`
too, once the body sits in a file under `upload.temp_store`. A client can
send those headers itself, so `upload_file` checks the path before trusting it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadRequest, HTTPError
from ..http_checks import Refusal
from ..http_checks import check_head as check_framing
from ..limits import Limits
from ..request import Headers, Request, decode_path
from . import tnetstring

UPLOAD_START = "x-mongrel2-upload-start"
UPLOAD_DONE = "x-mongrel2-upload-done"
MAX_TARGETS = 128  # Mongrel2's limits.handler_targets: connection ids per reply


class MalformedMessage(ValueError):
    """The envelope parsed (so we can still answer) but headers or body did not."""

    def __init__(self, sender: str, conn_id: str, reason: str) -> None:
        super().__init__(reason)
        self.sender = sender
        self.conn_id = conn_id


@dataclass
class Message:
    """One message from Mongrel2, headers decoded, nothing else interpreted."""

    sender: str
    conn_id: str
    path: str
    headers: dict[str, list[str]]
    body: bytes
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.meta.get("METHOD", "")

    @property
    def is_disconnect(self) -> bool:
        if self.method != "JSON":
            return False
        try:
            return json.loads(self.body.decode("latin-1")).get("type") == "disconnect"
        except (ValueError, AttributeError, RecursionError):  # deep nesting is hostile, not a crash
            return False

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


def _values(value: object) -> list[str]:
    if isinstance(value, list):
        return [_text(v) for v in value]
    return [_text(value)]


def _header_dict(raw: bytes) -> dict:
    """The headers as a dict, whichever protocol the handler speaks."""
    value, rest = tnetstring.parse(raw)
    if isinstance(value, dict):  # tnetstring protocol
        headers, body_part = value, rest
    elif isinstance(value, bytes):  # JSON protocol: JSON text in a netstring
        headers = json.loads(value.decode("latin-1"), strict=False)
        body_part = rest
        if not isinstance(headers, dict):
            raise ValueError("Mongrel2 JSON headers are not an object")
    else:
        raise ValueError("Mongrel2 headers are neither a dict nor JSON text")
    return {"headers": headers, "body": tnetstring.loads(body_part)}


def parse_message(raw: bytes) -> Message:
    """Parse one PULLed frame; `MalformedMessage` if only the envelope is sound."""
    try:
        sender, conn_id, path, rest = raw.split(b" ", 3)
        sender_text, conn_text = sender.decode("ascii"), conn_id.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a Mongrel2 message envelope") from None
    if not conn_text.isdigit():
        raise ValueError("Mongrel2 connection id is not a number")
    try:
        parts = _header_dict(rest)
        body = parts["body"]
        if not isinstance(body, bytes):
            raise ValueError("Mongrel2 body is not a string")
        meta: dict[str, str] = {}
        headers: dict[str, list[str]] = {}
        for key, value in parts["headers"].items():
            name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
            values = [value.decode("latin-1")] if isinstance(value, bytes) else _values(value)
            if not name.isupper():  # HTTP headers, which Mongrel2 lower-cases
                headers.setdefault(name.lower(), []).extend(values)
            else:  # Mongrel2's own upper-case keys: METHOD, PATH, QUERY, ...
                if not values:
                    raise ValueError(f"Mongrel2 header {name[:40]!r} is an empty list")
                meta[name] = values[0]
    except (ValueError, TypeError, RecursionError) as error:
        raise MalformedMessage(sender_text, conn_text, str(error)) from None
    return Message(sender_text, conn_text, path.decode("latin-1"), headers, body, meta)


def check_head(message: Message, limits: Limits, headers: Headers | None = None) -> None:
    """What Mongrel2 lets through but the WSGI servers refuse: the same limits and framing.

    Mongrel2 bounds the path, not the request line; forwards duplicate, signed
    or non-numeric Content-Lengths and Content-Length with Transfer-Encoding;
    and spools chunked bodies as uploads of unknown length. Its own
    X-Forwarded-For does not count against the client's headers.
    """
    line = len(message.method) + len(message.meta.get("URI", message.path)) \
        + len(message.meta.get("VERSION", "HTTP/1.1")) + 4  # two spaces, CRLF
    if line > limits.request_line:
        raise HTTPError(414, "Request line too long")
    count = sum(map(len, message.headers.values())) - ("x-forwarded-for" in message.headers)
    if count > limits.header_count:
        raise HTTPError(431, "Too many headers")
    if headers is None:
        headers = request_headers(message)
    try:
        check_framing(headers, len(headers), limits)
    except Refusal as refusal:
        raise HTTPError(refusal.status, refusal.reason) from None
    if headers.get("transfer-encoding") is not None:
        raise HTTPError(411, "Chunked bodies are not supported behind Mongrel2: send a length")


def request_headers(message: Message) -> Headers:
    return Headers([(name, value) for name, values in message.headers.items()
                    for value in values])


def to_request(message: Message, limits: Limits, body: bytes | None = None) -> Request:
    """The protocol-free Request for a message; bad input raises a 4xx HTTPError."""
    headers = request_headers(message)
    check_head(message, limits, headers)
    if body is None and len(message.body) != (declared_length(message) or 0):
        raise BadRequest("Body does not match its Content-Length")
    query = message.meta.get("QUERY", "")
    try:
        query.encode("ascii")
    except UnicodeEncodeError:
        raise BadRequest("Query string is not ASCII") from None
    raw_path = message.meta.get("PATH") or message.path
    request = Request(
        method=message.method or "GET",
        path=decode_path(raw_path) or "/",
        query_string=query,
        headers=headers,
        body=message.body if body is None else body,
        remote_addr=message.meta.get("REMOTE_ADDR", ""),
        scheme=message.meta.get("URL_SCHEME", "http"),
        version=message.meta.get("VERSION", "HTTP/1.1"),
        limits=limits,
    )
    request.sender = message.sender
    request.conn_id = message.conn_id
    return request


# -- uploads -------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadStore:
    """Where Mongrel2 spools big bodies: its `upload.temp_store` and server `chroot`.

    Mongrel2 chroots when started as root, so the paths it reports are inside
    the chroot; joining them to `chroot` finds the file from the worker.
    """

    template: str  # e.g. /tmp/mongrel2.upload.XXXXXX
    chroot: str | None = None

    def _outside(self, path: str) -> Path:
        base = Path(self.chroot or "/")
        return base / path.lstrip("/") if self.chroot else Path(path)

    def locate(self, reported: str) -> Path:
        """The real file behind a reported upload path; BadRequest if it is not ours."""
        directory, _, name_template = self.template.rpartition("/")
        prefix = name_template.rstrip("X")
        name = reported.rpartition("/")[2]
        if (not reported or "\0" in reported or reported.rpartition("/")[0] != directory
                or not name.startswith(prefix) or len(name) != len(name_template)):
            raise BadRequest("Bad upload", log_message=f"upload path {reported!r} not in store")
        store = os.path.realpath(self._outside(directory or "/"))
        real = os.path.realpath(self._outside(reported))
        if os.path.dirname(real) != store or not os.path.isfile(real):
            raise BadRequest("Bad upload", log_message=f"upload path {reported!r} is no file")
        return Path(real)


def upload_state(message: Message) -> str | None:
    """None for an ordinary request, else 'start' or 'done' (headers unchecked)."""
    if message.header(UPLOAD_DONE) is not None:
        return "done"
    if message.header(UPLOAD_START) is not None:
        return "start"
    return None


def checked_upload(message: Message, store: UploadStore | None) -> Path:
    """The spooled body's file, after checking both headers and the path."""
    starts = message.headers.get(UPLOAD_START, [])
    dones = message.headers.get(UPLOAD_DONE, [])
    if store is None:
        raise BadRequest("Bad upload", log_message="upload without a configured upload_store")
    if message.body:
        raise BadRequest("Bad upload", log_message="upload header on a request with a body")
    if len(starts) != 1 or len(dones) > 1 or (dones and dones[0] != starts[0]):
        raise BadRequest("Bad upload", log_message="upload headers do not match")
    return store.locate(starts[0])


def declared_length(message: Message) -> int | None:
    text = message.header("content-length")
    return int(text) if text is not None and text.isdigit() else None


# -- replies ---------------------------------------------------------------------------

def frame(sender: str, conn_ids: Iterable[str], data: bytes) -> bytes:
    """One reply to up to 128 connections: `SENDER LEN:ID1 ID2, DATA`."""
    ids = " ".join(str(i) for i in conn_ids).encode("ascii")
    return b"%s %d:%s, %s" % (sender.encode("ascii"), len(ids), ids, data)


def chunks(conn_ids: Iterable[str], size: int = MAX_TARGETS) -> Iterator[list[str]]:
    batch: list[str] = []
    for conn_id in conn_ids:
        batch.append(str(conn_id))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
