"""Mongrel2's wire format, without I/O: parse what it pushes, frame what we publish.

A request is `SENDER CONN_ID PATH LEN:HEADERS,LEN:BODY,` where HEADERS is a
tnetstring dict (handler `protocol='tnetstring'`) or JSON text in a netstring
(the default `json` protocol). Both carry raw client bytes; JSON also carries
raw control characters and lists for repeated headers, so it is read leniently
as Latin-1. Header values come out as Latin-1 strings, as WSGI gives them.
Uploads spooled to disk are `uploads.py`'s business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..datastructures import Headers
from ..errors import HTTPError
from ..limits import Limits
from ..request import CHUNKED, Request, body_length, build_request, parse_content_length
from . import tnetstring

MAX_TARGETS = 128  # Mongrel2's limits.handler_targets: connection ids per reply
# What Mongrel2's reply parser (src/handler_parser.rl) reads as a sender and as one
# target. Anything else in a reply frame would be misread: a space or comma in an
# id adds or cuts targets, "X " turns the frame into a control message.
_SENDER = re.compile(r"[A-Za-z0-9-]+")


def _is_conn_id(text: str | bytes) -> bool:
    """1 to 19 ASCII digits (what `[0-9]{1,19}` matches, without a regex call)."""
    return text.isascii() and text.isdigit() and len(text) <= 19


class MalformedMessage(ValueError):
    """The envelope parsed (so we can still answer) but headers or body did not."""

    def __init__(self, sender: str, conn_id: str, reason: str) -> None:
        super().__init__(reason)
        self.sender = sender
        self.conn_id = conn_id


@dataclass
class Message:
    """One message from Mongrel2, headers decoded, nothing else interpreted.

    `headers` are the HTTP headers as the one header type, `Headers`: the
    request built from the message adopts them as they are. Mongrel2's own
    upper-case keys (METHOD, PATH, ...) are in `meta`.
    """

    sender: str
    conn_id: str
    path: str
    headers: Headers
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
            notice = json.loads(self.body.decode("latin-1"))
            return bool(notice.get("type") == "disconnect")
        except (ValueError, AttributeError, RecursionError):  # deep nesting is hostile, not a crash
            return False

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(eq=False)
class Mongrel2Client:
    """`request.transport` for a request from Mongrel2: where its reply goes.

    `leave()` is the connection's word that Mongrel2 reported the client's
    disconnect; `gone` is a backend Event set then (0.4's `client_gone`), made
    on first use from `new_event`, which the connection serving the request
    sets (most requests never ask, and an Event each cost 3% of a hello).
    `open_stream` is the connection's, while the handler runs; `answered` is
    True once a bulk reply (`reply_many`) has answered it.
    """

    sender: str
    conn_id: str
    answered: bool = False
    left: bool = False
    new_event: Callable[[], Any] | None = None
    open_stream: Callable[[Any], Any] | None = None
    _gone: Any = None

    @property
    def gone(self) -> Any:
        """The Event set on the client's disconnect; None until a connection serves it."""
        if self._gone is None and self.new_event is not None:
            self._gone = self.new_event()
            if self.left:
                self._gone.set()
        return self._gone

    def leave(self) -> None:
        self.left = True
        if self._gone is not None:
            self._gone.set()

    def is_disconnected(self) -> bool:
        return self.left


def client_of(request: Request) -> Mongrel2Client:
    """The Mongrel2 client a request came from; ValueError if it did not come from Mongrel2."""
    client = getattr(request, "transport", None)
    if not isinstance(client, Mongrel2Client):
        raise ValueError(f"{request!r} did not come through Mongrel2: nowhere to reply")
    return client


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


def _values(value: object) -> list[str]:
    if isinstance(value, list):
        return [_text(v) for v in value]
    return [_text(value)]


def _headers_and_body(raw: bytes) -> tuple[dict[Any, Any], tnetstring.Value]:
    """The headers as a dict, whichever protocol the handler speaks, and the body."""
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
    return headers, tnetstring.loads(body_part)


#: Header key as Mongrel2 sent it -> (its name, whether it is Mongrel2's own upper-case
#: key, the HTTP header's lower-case name). Bounded: keys come from clients.
_KEYS: dict[Any, tuple[str, bool, str]] = {}
#: Senders already checked (a Mongrel2 has a few; each is checked once). Bounded.
_SENDERS: dict[bytes, str] = {}
_SENDERS_TEXT: set[str] = set()


def _key(key: Any) -> tuple[str, bool, str]:
    name = key.decode("latin-1") if type(key) is bytes else str(key)
    found = (name, name.isupper(), name.lower())
    if len(_KEYS) < 512:
        _KEYS[key] = found
    return found


def _sender(sender: bytes) -> str:
    text = sender.decode("ascii")
    if not _SENDER.fullmatch(text):  # we could never address a reply to it
        raise ValueError("Mongrel2 sender is not letters, digits and '-'")
    if len(_SENDERS) < 64:
        _SENDERS[sender] = text
        _SENDERS_TEXT.add(text)
    return text


def parse_message(raw: bytes) -> Message:
    """Parse one PULLed frame; `MalformedMessage` if only the envelope is sound."""
    try:
        sender, conn_id, path, rest = raw.split(b" ", 3)
        sender_text = _SENDERS.get(sender) or _sender(sender)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a Mongrel2 message envelope") from None
    if not _is_conn_id(conn_id):
        raise ValueError("Mongrel2 connection id is not a number")
    conn_text = conn_id.decode("ascii")
    try:
        raw_headers, body = _headers_and_body(rest)
        if not isinstance(body, bytes):
            raise ValueError("Mongrel2 body is not a string")
        meta: dict[str, str] = {}
        headers: dict[str, list[str]] = {}
        keys = _KEYS
        for key, value in raw_headers.items():
            name, own, lower = keys.get(key) or _key(key)
            if own:  # Mongrel2's own upper-case keys: METHOD, PATH, QUERY, ...
                if type(value) is bytes:
                    meta[name] = value.decode("latin-1")
                    continue
                values = _values(value)
                if not values:
                    raise ValueError(f"Mongrel2 header {name[:40]!r} is an empty list")
                meta[name] = values[0]
                continue
            # HTTP headers, which Mongrel2 lower-cases (a JSON key may not be)
            values = [value.decode("latin-1")] if type(value) is bytes else _values(value)
            if lower in headers:
                headers[lower].extend(values)
            elif values:  # an empty list is no header at all
                headers[lower] = values
    except (ValueError, TypeError, RecursionError) as error:
        raise MalformedMessage(sender_text, conn_text, str(error)) from None
    return Message(sender_text, conn_text, path.decode("latin-1"), Headers.of_lists(headers),
                   body, meta)


def request_headers(message: Message) -> Headers:
    """The message's headers, which its request adopts as they are."""
    return message.headers


def raw_target(message: Message) -> str:
    """The request target as the client sent it (percent-encoded), with its `?query`."""
    path = message.meta.get("PATH") or message.path
    query = message.meta.get("QUERY", "")
    return f"{path}?{query}" if query else path


def to_request(message: Message, limits: Limits, body: bytes | None = None,
               *, declared_length: int | None = None) -> Request:
    """The protocol-free Request for a message (`body` when Mongrel2 spooled it to a file).

    Every HTTP rule is `build_request`'s, as over WSGI: Mongrel2 bounds the path
    but not the request line, and forwards duplicate, signed or non-numeric
    Content-Lengths and Content-Length with Transfer-Encoding. Its own
    X-Forwarded-For does not count against the client's headers.
    """
    return build_request(
        message.method or "GET", raw_target(message), message.headers,
        message.body if body is None else body,
        remote_addr=message.meta.get("REMOTE_ADDR", ""),
        scheme=message.meta.get("URL_SCHEME", "http"),
        version=message.meta.get("VERSION", "HTTP/1.1"),
        limits=limits,
        transport=Mongrel2Client(message.sender, message.conn_id),
        declared_length=declared_length,
        added_headers=int("x-forwarded-for" in message.headers),
    )


def upload_length(message: Message, limits: Limits) -> int:
    """An upload's head checked before its body is in (`build_request`'s rules); its length.

    A body Mongrel2 spools has a Content-Length (a chunked one is refused with
    411, as inline); one over `limits.body` is a 413 before it is read.
    """
    to_request(message, limits, b"", declared_length=0)  # the line, headers and target
    length = body_length(message.headers.get_all("content-length"),
                         message.headers.get_all("transfer-encoding"), limits,
                         message.meta.get("VERSION", "HTTP/1.1"))
    if length is None or length == CHUNKED:
        raise HTTPError(411, "A spooled upload needs a Content-Length")
    return length


def declared_length(message: Message) -> int | None:
    """The message's Content-Length by the one rule (`parse_content_length`), or None."""
    text = message.header("content-length")
    return None if text is None else parse_content_length(text)


# -- replies ---------------------------------------------------------------------------

def conn_id_text(conn_id: int | str) -> str:
    """`conn_id` as the decimal digits of a reply target; ValueError for anything else."""
    if isinstance(conn_id, int) and not isinstance(conn_id, bool):
        text = str(conn_id)
    elif isinstance(conn_id, str):
        text = conn_id
    else:
        text = ""
    if not _is_conn_id(text):
        raise ValueError(f"a Mongrel2 connection id is a non-negative integer of at most"
                         f" 19 digits, not {conn_id!r}")
    return text


def sender_text(sender: str) -> str:
    """`sender` if Mongrel2 can read it as a reply's UUID; ValueError otherwise."""
    if isinstance(sender, str) and sender in _SENDERS_TEXT:
        return sender
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
        raise ValueError(f"a Mongrel2 sender is letters, digits and '-' (the handler's"
                         f" send_ident), not {sender!r}")
    if len(_SENDERS_TEXT) < 64:
        _SENDERS_TEXT.add(sender)
    return sender


def frame(sender: str, conn_ids: Iterable[int | str], data: bytes) -> bytes:
    """One reply to up to 128 connections: `SENDER LEN:ID1 ID2, DATA`.

    Sender and ids are checked, so no id can add targets or change the frame's kind.
    """
    ids = " ".join(conn_id_text(i) for i in conn_ids).encode("ascii")
    if not ids:
        raise ValueError("a Mongrel2 reply needs at least one connection id")
    return b"%s %d:%s, %s" % (sender_text(sender).encode("ascii"), len(ids), ids, data)


def chunks(conn_ids: Iterable[int | str], size: int = MAX_TARGETS) -> Iterator[list[str]]:
    """Checked ids in batches of `size`; a bad id raises before any batch is sent."""
    checked = [conn_id_text(conn_id) for conn_id in conn_ids]
    batch: list[str] = []
    for conn_id in checked:
        batch.append(conn_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
