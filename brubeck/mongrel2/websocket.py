"""WebSockets behind Mongrel2: the 101, whole frames out, Mongrel2's messages in.

Mongrel2 (1.12) takes the upgrade itself and leaves the rest to the worker.
The handshake arrives as METHOD `WEBSOCKET_HANDSHAKE` with the accept key as
its body (the client's method is lost: a POST with the upgrade headers looks
the same); the worker runs `brubeck.websocket.upgrade` and answers the 101 head
or a refusal. Each later message arrives as METHOD `WEBSOCKET`, with a hex
`FLAGS` header (`0x80` fin, `0x70` rsv, `0x0F` opcode) and the unmasked payload.

What Mongrel2 does, and so what is left here:

- It joins data fragments until FIN and forwards control frames at once, so a
  message arrives whole. It sets no size limit: a message over
  `websocket_max_message_size` is closed with 1009 here, but only once
  Mongrel2 has buffered all of it, and a never-ending fragmented message grows
  Mongrel2's memory until the client stops (no Mongrel2 setting bounds it).
- It drops the TCP connection, with no close frame, on an unmasked frame, a
  stray continuation, a data frame inside a fragmented message, a fragmented
  or over-125-byte control frame, and a frame longer than 2 GiB.
- It checks no UTF-8 (1007 here), no rsv bit or opcode (1002 here), no close
  code (1002 here), answers no ping and runs no close handshake (both here,
  through the handler: `brubeck.websocket`).
- A client with 16 replies queued in Mongrel2 is disconnected by Mongrel2 (its
  `DELIVER_OUTSTANDING_MSGS`), and the worker hears the disconnect (so may be a
  fast one sent a burst of over 16 messages: the queue empties only as
  Mongrel2's loop turns). Mongrel2 tells a worker nothing of what it delivered
  (its `download.flow_control` credits would, but for every HTTP reply too), so
  the client confirms instead: once `ACK_WINDOW / 2` bytes of messages are out
  unconfirmed, a ping goes with them, and its pong confirms all sent before it
  (TCP keeps order). A writer `ACK_WINDOW` bytes ahead of the client's last
  pong waits for the next, at most `write_timeout` seconds, then the connection
  is dropped: as over Brubeck's own servers, a slow reader blocks its writer and
  then loses the connection, and a fast one never waits (the ping left half a
  window early). A broadcast does not wait for any one client.
- Mongrel2 closes a connection silent past `limits.min_ping` seconds (and slow
  in both directions): `websocket_ping_interval` must be shorter.

Replies are whole frames (server frames are unmasked, so a broadcast frames a
message once and sends it to 128 connection ids per reply). Behind the
dispatcher every frame and the 101 are non-final sends and the close is the
final one, so the connection stays with this worker until it is closed.
"""

from __future__ import annotations

import binascii
import dataclasses
import logging
import struct
import time
from base64 import b64decode
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import HTTPError, loggable
from ..response import Response, http_bytes, plain_response, refuse
from ..websocket import (
    CLOSE_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
    GOING_AWAY,
    INTERNAL_ERROR,
    PROTOCOL_ERROR,
    TOO_BIG,
    ProtocolError,
    WebSocketClosed,
    WebSocketHandler,
    accept_key,
    decode_text,
    handshake_head,
    setting,
    upgrade,
)
from . import wire

if TYPE_CHECKING:
    from ..app import Brubeck

log = logging.getLogger("brubeck.websocket")

HANDSHAKE, FRAME = "WEBSOCKET_HANDSHAKE", "WEBSOCKET"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
#: Frames a client may send before its handshake is answered (they wait, in order).
EARLY_FRAMES = 16
#: Bytes of messages a writer may have out that the client has not confirmed (module doc).
ACK_WINDOW = 1024 * 1024
_ACK = b"brubeck-ack-"  # the confirming pings' payload prefix, then a serial number
#: Close codes a peer may send (RFC 6455 7.4): registered ones and 3000-4999.
_VALID_CLOSE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011))
_HEADS = {op: bytes((0x80 | op,)) for op in (TEXT, BINARY, CLOSE, PING, PONG)}


class Sender(Protocol):
    """What the transport needs of `Mongrel2Connection`: its send API (`sender.ReplySender`)."""

    def send(self, uuid: str, conn_id: str, data: bytes, final: bool = True) -> None: ...
    def reply_bulk(self, uuid: str, idents: Any, data: bytes | str,
                   final: bool = True) -> None: ...


def server_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (RFC 6455 5.2): what a server sends."""
    size = len(payload)
    if size < 126:
        return _HEADS[opcode] + bytes((size,)) + payload
    if size < 65536:
        return _HEADS[opcode] + struct.pack("!BH", 126, size) + payload
    return _HEADS[opcode] + struct.pack("!BQ", 127, size) + payload


def parse_flags(text: str | None) -> tuple[int, int]:
    """(rsv bits, opcode) of Mongrel2's `FLAGS` header; ProtocolError if unreadable."""
    try:
        flags = int(text or "", 16)
    except ValueError:
        raise ProtocolError(PROTOCOL_ERROR, "Unreadable frame flags") from None
    return flags & 0x70, flags & 0x0F


def close_payload(code: int | None, reason: str) -> bytes:
    """A close frame's payload: nothing, or the code and the UTF-8 reason."""
    return b"" if code is None else struct.pack("!H", code) + reason.encode("utf-8")


def parse_close(payload: bytes) -> tuple[int | None, str]:
    """The code and reason of a client's close frame (RFC 6455 5.5.1, 7.4)."""
    if not payload:
        return None, ""
    if len(payload) == 1:
        raise ProtocolError(PROTOCOL_ERROR, "Close frame of one byte")
    code = struct.unpack("!H", payload[:2])[0]
    if code not in _VALID_CLOSE and not 3000 <= code <= 4999:
        raise ProtocolError(PROTOCOL_ERROR, f"Invalid close code {code}")
    return code, decode_text(payload[2:])


_WEBSOCKET_METHOD = b"6:METHOD,9:WEBSOCKET,"
_FLAGS_KEY = b"5:FLAGS,"


def _netstring(raw: bytes, start: int) -> tuple[int, int]:
    """(data start, data end) of the tnetstring element at `start`; its type tag is at
    the end. ValueError if there is none."""
    colon = raw.find(b":", start, start + 11)
    digits = raw[start:colon]
    if colon < 0 or not digits.isdigit():  # never negative: the walk only moves forward
        raise ValueError("no tnetstring length")
    begin = colon + 1
    return begin, begin + int(digits)


def peek_frame(raw: bytes) -> tuple[str, str, str, bytes] | None:
    """(sender, conn id, FLAGS, payload) of a tnetstring WEBSOCKET message, read without
    parsing its headers; None for any other message or anything unexpected (the full
    parser judges those).

    A frame carries the whole handshake's headers again, and parsing them all
    (`wire.parse_message`) costs more than the rest of an echo. METHOD is found by
    walking the header netstrings by their lengths (Mongrel2 puts its own keys
    first); FLAGS by its key from the end. A client header value holding the bytes
    of a FLAGS entry could only misstate the flags of its own frames, which the
    client chooses anyway.
    """
    try:
        first = raw.index(b" ")
        second = raw.index(b" ", first + 1)
        third = raw.index(b" ", second + 1)
        start, end = _netstring(raw, third + 1)
        if raw[end:end + 1] != b"}" or raw.find(_WEBSOCKET_METHOD, start, end) < 0:
            return None
        position = start
        while position < end:
            key_start, key_end = _netstring(raw, position)
            value_start, value_end = _netstring(raw, key_end + 1)
            if raw[key_start:key_end] == b"METHOD":
                if raw[value_start:value_end] != b"WEBSOCKET":
                    return None
                break
            position = value_end + 1
        else:
            return None
        flags = raw.rfind(_FLAGS_KEY, start, end)
        if flags < 0:
            return None
        value_start, value_end = _netstring(raw, flags + len(_FLAGS_KEY))
        body_start, body_end = _netstring(raw, end + 1)
        if raw[body_end:] != b",":
            return None
        return (wire.sender_text(raw[:first].decode("ascii")),
                wire.conn_id_text(raw[first + 1:second].decode("ascii")),
                raw[value_start:value_end].decode("ascii"), raw[body_start:body_end])
    except (ValueError, UnicodeDecodeError):
        return None


def _accept(message: wire.Message) -> str:
    """Mongrel2's accept key (the body), else computed here from the client's key."""
    try:
        if len(b64decode(message.body, validate=True)) == 20:
            return message.body.decode("ascii")
    except (binascii.Error, ValueError):
        pass
    return accept_key(message.header("sec-websocket-key") or "")


class Mongrel2Transport:
    """One upgraded connection behind Mongrel2: a `brubeck.websocket.Transport`."""

    __slots__ = ("_ack", "_acked", "_acks", "_closing_now", "_early", "_finished",
                 "_peer_closed", "_sent_close", "_unconfirmed", "conn_id", "handler",
                 "max_size", "sender", "sockets")

    def __init__(self, sockets: WebSockets, sender: str, conn_id: str) -> None:
        self.sockets = sockets
        self.sender = sender
        self.conn_id = conn_id
        self.handler: WebSocketHandler | None = None
        self.max_size = 0
        self._early: list[tuple[str | None, bytes]] | None = []  # before the handler is ready
        self._sent_close = False
        self._peer_closed = False
        self._closing_now = False
        self._finished = False
        self._unconfirmed = 0  # bytes of messages sent that no pong has confirmed yet
        self._ack: tuple[bytes, int] | None = None  # the confirming ping out: payload, bytes
        self._acks = 0
        self._acked: Any = None  # set when a pong confirms, or the connection ends

    def __repr__(self) -> str:
        return f"<Mongrel2Transport {self.sender} {self.conn_id}>"

    # -- what the handler calls ----------------------------------------------------

    def send_message(self, message: str | bytes) -> None:
        data = server_frame(TEXT, message.encode("utf-8")) if isinstance(message, str) \
            else server_frame(BINARY, message)
        self._await_room(len(data))
        self._send(data)
        self._unconfirmed += len(data)
        if self._ack is None and self._unconfirmed >= ACK_WINDOW // 2:
            self._acks += 1
            payload = _ACK + str(self._acks).encode("ascii")
            self._ack = (payload, self._unconfirmed)
            self._send(server_frame(PING, payload))

    def _await_room(self, size: int) -> None:
        """Wait while the client has not confirmed `ACK_WINDOW` bytes; drop it after
        `write_timeout` seconds."""
        if self._ack is None or self._unconfirmed + size <= ACK_WINDOW:
            return
        backend, handler = self.sockets.backend, self.handler
        timeout = DEFAULT_WRITE_TIMEOUT if handler is None \
            else float(setting(handler, "write_timeout", DEFAULT_WRITE_TIMEOUT))
        deadline = time.monotonic() + timeout
        while self._ack is not None and self._unconfirmed + size > ACK_WINDOW \
                and not self._finished:
            left = deadline - time.monotonic()
            if left <= 0:
                log.info("WebSocket %s: client read nothing for %g s: dropped",
                         self.conn_id, timeout)
                self.abort()
                break
            self._acked = backend.Event()
            self._acked.wait(left)
        if self._finished:
            raise WebSocketClosed("the WebSocket connection is closed")

    def _confirmed(self, payload: bytes) -> bool:
        """Whether a pong answers our confirming ping (then all sent before it arrived)."""
        ack = self._ack
        if ack is None or payload != ack[0]:
            return payload.startswith(_ACK)  # an older one's late answer: ours all the same
        self._unconfirmed -= ack[1]
        self._ack = None
        if self._acked is not None:
            self._acked.set()
        return True

    def send_ping(self, data: bytes) -> None:
        self._send(server_frame(PING, data))

    def send_pong(self, data: bytes) -> None:
        self._send(server_frame(PONG, data))

    def send_close(self, code: int | None, reason: str) -> None:
        """Our close frame. Answering the client's (or failing): close the connection
        now; else the client has `CLOSE_TIMEOUT` seconds to answer it."""
        self._send(server_frame(CLOSE, close_payload(code, reason)))
        self._sent_close = True
        if self._peer_closed or self._closing_now:
            self.finish()
        else:
            self.sockets.backend.spawn(self._close_deadline)

    def abort(self) -> None:
        """Drop the connection: Mongrel2 closes it (no close frame)."""
        self.finish()
        if self.handler is not None and not self.handler.closed:
            self.handler.feed_lost()

    def _send(self, data: bytes) -> None:
        if self._finished:
            raise WebSocketClosed("the WebSocket connection is closed")
        sockets = self.sockets
        sockets.connection.send(self.sender, self.conn_id, data, final=False)
        # A send to ZeroMQ never blocks: yield, so that a handler writing in a loop
        # lets this worker hear a disconnect (Mongrel2 drops a client that reads
        # too slowly) and let other connections' frames through.
        sockets.backend.sleep(0)

    def _close_deadline(self) -> None:
        self.sockets.backend.sleep(CLOSE_TIMEOUT)
        if not self._finished:
            log.debug("WebSocket %s did not answer our close: dropped", self.conn_id)
            self.abort()

    def finish(self) -> None:
        """Close the connection (Mongrel2's empty reply; the final send) and forget it."""
        if self._finished:
            return
        self.gone()
        self.sockets.forget(self)
        self.sockets.connection.send(self.sender, self.conn_id, b"", final=True)

    def gone(self) -> None:
        """The connection is over: nothing more is sent, and a waiting writer wakes."""
        self._finished = True
        if self._acked is not None:
            self._acked.set()

    # -- what Mongrel2 sends ---------------------------------------------------------

    def start(self, handler: WebSocketHandler) -> None:
        """The handshake is answered: run the handler, then the frames that waited."""
        self.handler = handler
        self.max_size = handler.max_size
        handler.start(self)
        early, self._early = self._early or [], None
        for flags, payload in early:
            self.feed(flags, payload)

    def feed(self, flags: str | None, payload: bytes) -> None:
        """One message from the client (its FLAGS and payload): fail the connection if it
        breaks the protocol."""
        handler = self.handler
        if handler is None:
            if self._early is not None and len(self._early) < EARLY_FRAMES:
                self._early.append((flags, payload))
            else:
                self.finish()
            return
        try:
            self._feed(handler, flags, payload)
        except ProtocolError as error:
            self._closing_now = True
            handler.fail(error.code, error.reason)
            self.finish()

    def _feed(self, handler: WebSocketHandler, flags: str | None, payload: bytes) -> None:
        rsv, opcode = parse_flags(flags)
        if rsv:
            raise ProtocolError(PROTOCOL_ERROR, "Reserved bits set without an extension")
        if opcode in (TEXT, BINARY):
            if len(payload) > self.max_size:
                raise ProtocolError(TOO_BIG, "Message too big")
            self._closing_now = True  # a full inbox fails it (1008): close at once
            try:
                handler.feed_message(decode_text(payload) if opcode == TEXT else payload,
                                     block=False)
            finally:
                self._closing_now = False
        elif opcode & 0x8 and len(payload) > 125:
            raise ProtocolError(PROTOCOL_ERROR, "Control frame over 125 bytes")
        elif opcode == PING:
            handler.feed_ping(payload)
        elif opcode == PONG:
            if not self._confirmed(payload):
                handler.feed_pong(payload)
        elif opcode == CLOSE:
            code, reason = parse_close(payload)
            self._peer_closed = True
            handler.feed_close(code, reason)
            self.finish()  # answered already, or we had sent ours first
        else:
            raise ProtocolError(PROTOCOL_ERROR, f"Unknown opcode {opcode:#x}")

    @classmethod
    def broadcast(cls, transports: list[Any], message: str | bytes) -> None:
        """Frame once, then one reply per 128 connections of each sender."""
        data = server_frame(TEXT, message.encode("utf-8")) if isinstance(message, str) \
            else server_frame(BINARY, message)
        groups: dict[tuple[int, str], tuple[Any, list[str]]] = {}
        for transport in transports:
            if transport._finished or transport._sent_close:
                continue
            connection = transport.sockets.connection
            group = groups.setdefault((id(connection), transport.sender), (connection, []))
            group[1].append(transport.conn_id)
        for (_, sender), (connection, ids) in groups.items():
            connection.reply_bulk(sender, ids, data, final=False)


class WebSockets:
    """The WebSockets one worker holds, by (sender, connection id)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.open: dict[tuple[str, str], Mongrel2Transport] = {}
        self._warned = False

    @property
    def application(self) -> Brubeck:
        return self.connection._app  # type: ignore[no-any-return]

    @property
    def backend(self) -> Any:
        return self.application.backend

    def expect(self, message: wire.Message) -> None:
        """A handshake arrived: frames for its connection wait until it is answered."""
        key = (message.sender, message.conn_id)
        stale = self.open.get(key)
        if stale is not None:  # we missed its disconnect: the id is a new connection's now
            self.lost(message.sender, message.conn_id)
        self.open[key] = Mongrel2Transport(self, message.sender, message.conn_id)

    def forget(self, transport: Mongrel2Transport) -> None:
        key = (transport.sender, transport.conn_id)
        if self.open.get(key) is transport:
            del self.open[key]

    def handshake(self, message: wire.Message) -> None:
        """Answer a handshake (in its own green thread): the 101 and the session, or a
        refusal and a close."""
        transport = self.open.get((message.sender, message.conn_id))
        if transport is None:  # the client left already
            return
        try:
            outcome = self._upgrade(message)
        except HTTPError as error:  # the request's own HTTP rules
            client = loggable(message.meta.get("REMOTE_ADDR", "-"))
            outcome = refuse(error, f"GET {message.path}", client, log)
        except Exception:
            log.exception("WebSocket handshake for %s failed", loggable(message.path))
            outcome = plain_response(500)
        if isinstance(outcome, WebSocketHandler):
            try:
                head = handshake_head(outcome, _accept(message))
            except ValueError as error:
                log.error("refused to send the 101 for %s: %s", loggable(message.path), error)
                outcome = plain_response(500)
            else:
                if not transport._finished:
                    self.connection.send(message.sender, message.conn_id, head, final=False)
                    transport.start(outcome)
                return
        if not transport._finished:
            self.connection.send(message.sender, message.conn_id, http_bytes(outcome, "GET"),
                                 final=False)
            transport.finish()

    def _upgrade(self, message: wire.Message) -> WebSocketHandler | Response:
        """The handshake as a GET through the one request builder, then `upgrade`."""
        application = self.application
        if message.header("content-length") not in (None, "0") \
                or message.header("transfer-encoding") is not None:
            raise HTTPError(400, "A WebSocket handshake has no body")
        get = dataclasses.replace(message, meta={**message.meta, "METHOD": "GET"}, body=b"")
        request = wire.to_request(get, application.limits, b"", declared_length=0)
        outcome = upgrade(application, request)
        if outcome is None:  # no WebSocket route: answer it as the GET it is, then close
            return application.handle(request)
        return outcome

    def feed(self, message: wire.Message) -> None:
        """A frame from Mongrel2, to the connection's transport."""
        self._to(message.sender, message.conn_id, message.meta.get("FLAGS"), message.body)

    def feed_raw(self, raw: bytes) -> bool:
        """A message as Mongrel2 sent it: True if it was a WebSocket frame, fed on
        without parsing its headers; False for anything else (`wire` parses it then)."""
        found = peek_frame(raw)
        if found is None:
            return False
        self._to(*found)
        return True

    def _to(self, sender: str, conn_id: str, flags: str | None, payload: bytes) -> None:
        transport = self.open.get((sender, conn_id))
        if transport is not None:
            transport.feed(flags, payload)
        else:
            self._stray(sender, conn_id, flags)

    def _stray(self, sender: str, conn_id: str, flags: str | None) -> None:
        """A frame for a connection this worker does not hold. Behind the dispatcher only
        a late frame after our close can be one; with several workers PULLing from
        Mongrel2 directly, frames land on any worker: fail the connection loudly."""
        try:
            _, opcode = parse_flags(flags)
        except ProtocolError:
            opcode = -1
        if opcode == CLOSE:
            return
        report: Callable[..., None] = log.debug if self._warned else log.warning
        self._warned = True
        report("WebSocket frame for connection %s, which this worker does not hold: closed "
               "1011 (with several workers, serve WebSockets through the dispatcher)",
               loggable(conn_id))
        self.connection.send(sender, conn_id,
                             server_frame(CLOSE, close_payload(INTERNAL_ERROR, "")), final=False)
        self.connection.send(sender, conn_id, b"", final=True)

    def lost(self, sender: str, conn_id: str) -> bool:
        """Mongrel2 reports the client gone; True if it was a WebSocket of ours."""
        transport = self.open.pop((sender, conn_id), None)
        if transport is None:
            return False
        transport.gone()
        if transport.handler is not None and not transport.handler.closed:
            transport.handler.feed_lost()
        return True

    def close_all(self, code: int = GOING_AWAY) -> int:
        """The worker is stopping: close every WebSocket (1001: the client reconnects
        elsewhere); returns how many."""
        transports = list(self.open.values())
        for transport in transports:
            handler = transport.handler
            transport._closing_now = True
            try:
                if handler is not None and not handler.closed:
                    handler.fail(code, "Server going away")
            except WebSocketClosed:
                pass
            transport.finish()
        return len(transports)


__all__ = ["FRAME", "HANDSHAKE", "Mongrel2Transport", "WebSockets",
           "close_payload", "parse_close", "parse_flags", "server_frame"]
