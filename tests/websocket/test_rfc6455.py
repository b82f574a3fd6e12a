"""RFC 6455 on the wire (issue 15): hand-made frames against each transport with real
framing (see conftest `WS_LIVE`). The server must fail bad input with the right close
code and then close the connection, never hang or buffer without bound."""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from tests.websocket.app import EVENTS, build_app

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """One client frame, as RFC 6455 5.2 lays it out."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@pytest.fixture
def client(serve_live):
    EVENTS.clear()
    return serve_live(build_app())


def closed_with(ws, code):
    """The server's next frame is a close with `code`, and it closes TCP after."""
    assert ws.receive(timeout=10) is None
    assert ws.close_code == code
    ws.wait_eof(10)
    ws.close()
    return True


def test_ws_rfc_handshake_101_accept_key(client):
    ws = client.websocket("/echo")  # the wsproto client checks Sec-WebSocket-Accept
    ws.send("x")
    assert ws.receive() == "x"
    ws.close()


def raw_handshake(client, key="dGhlIHNhbXBsZSBub25jZQ==", version="13"):
    with socket.create_connection((client.host, client.port), timeout=10) as sock:
        sock.sendall((f"GET /echo HTTP/1.1\r\nHost: {client.host}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: {version}\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_ws_rfc_handshake_accept_key_is_rfc_example(client):
    head = raw_handshake(client)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455 1.3


def test_ws_rfc_handshake_bad_version_426(client):
    head = raw_handshake(client, version="7")
    assert head.startswith(b"HTTP/1.1 426 ")
    assert b"Sec-WebSocket-Version: 13" in head


def test_ws_rfc_handshake_bad_key_400(client):
    assert raw_handshake(client, key="not-a-key").startswith(b"HTTP/1.1 400 ")


def test_ws_rfc_fragmented_text_is_one_message(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(TEXT, b"frag", fin=False))
    ws.send_raw(frame(PING, b"between"))  # control frames may come between fragments
    ws.send_raw(frame(CONTINUATION, "mént".encode()[:2], fin=False))
    ws.send_raw(frame(CONTINUATION, "mént".encode()[2:]))
    assert ws.receive() == "fragmént"
    assert ws.pongs == [b"between"]
    ws.close()


def test_ws_rfc_ping_pong_payload_echoed(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(PING, b"\x01" * 125))
    ws.send("sync")
    assert ws.receive() == "sync"
    assert ws.pongs == [b"\x01" * 125]
    ws.close()


def test_ws_rfc_close_handshake_echoes_code_then_closes_tcp(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(CLOSE, struct.pack("!H", 1000) + b"bye"))
    assert closed_with(ws, 1000)


def test_ws_rfc_close_without_code_answered_without_code(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(CLOSE))
    assert closed_with(ws, 1005)  # wsproto reports an empty close as 1005


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1016, 2999])
def test_ws_rfc_invalid_close_code_1002(client, code):
    ws = client.websocket("/echo")
    ws.send_raw(frame(CLOSE, struct.pack("!H", code)))
    assert closed_with(ws, 1002)


def test_ws_rfc_invalid_utf8_text_1007(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
    assert closed_with(ws, 1007)


def test_ws_rfc_invalid_utf8_across_fragments_1007(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(TEXT, b"ok\xf4", fin=False))
    ws.send_raw(frame(CONTINUATION, b"\x90\x80\x80"))  # above U+10FFFF
    assert closed_with(ws, 1007)


def test_ws_rfc_oversize_frame_1009_before_it_all_arrives(client):
    ws = client.websocket("/small")
    head = bytes([0x80 | BINARY, 0x80 | 127]) + struct.pack("!Q", 1 << 40) + os.urandom(4)
    ws.send_raw(head + b"\x00" * 2000)  # declares 1 TiB; sends 2000 bytes
    assert ws.receive(timeout=10) is None
    assert ws.close_code == 1009
    ws.close()


def test_ws_rfc_never_ending_fragmented_message_1009(client):
    ws = client.websocket("/small")
    ws.send_raw(frame(TEXT, b"a" * 500, fin=False))
    started = time.monotonic()
    for _ in range(100):  # would be 50 kB; the limit is 1000 bytes
        try:
            ws.send_raw(frame(CONTINUATION, b"a" * 500, fin=False))
        except OSError:
            break
    assert ws.receive(timeout=10) is None
    assert ws.close_code == 1009
    ws.wait_eof(10)
    ws.close()
    assert time.monotonic() - started < 9  # closed well before the 10 s bound


@pytest.mark.parametrize("bad", [
    pytest.param(frame(TEXT, b"unmasked", mask=False), id="unmasked"),
    pytest.param(frame(TEXT, b"x", rsv=1), id="rsv-bit"),
    pytest.param(frame(0x3, b"x"), id="reserved-opcode"),
    pytest.param(frame(0xB, b"x"), id="reserved-control-opcode"),
    pytest.param(frame(PING, b"x", fin=False), id="fragmented-ping"),
    pytest.param(frame(PING, b"x" * 126), id="ping-over-125"),
    pytest.param(frame(CONTINUATION, b"x"), id="continuation-first"),
    pytest.param(frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), id="text-inside-text"),
    pytest.param(frame(CLOSE, b"\x03"), id="close-one-byte"),
])
def test_ws_rfc_protocol_error_1002(client, bad):
    ws = client.websocket("/echo")
    ws.send_raw(bad)
    assert closed_with(ws, 1002)


def server_frames(data):
    """(opcode, payload) of each frame in what the server sent (server frames are unmasked)."""
    frames = []
    while data:
        opcode, size, start = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, start = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            size, start = struct.unpack("!Q", data[2:10])[0], 10
        frames.append((opcode, data[start:start + size]))
        data = data[start + size:]
    return frames


def test_ws_rfc_one_close_frame_even_while_the_handler_writes(client):
    """A protocol error while the echo handler is still writing: one Close (1002), never a
    second one with 1011 (behind Mongrel2 the close frame's send yields, the handler's
    next write raised WebSocketClosed, and that was taken for a crash: Autobahn 3.2)."""
    ws = client.websocket("/echo")
    # Ten echoes, not more: Mongrel2 1.12 disconnects a client with over 16 replies
    # queued for it, and then no Close is sent at all.
    ws.send_raw(frame(TEXT, b"a") * 10 + frame(TEXT, b"x", rsv=1))
    closes = [payload for opcode, payload in server_frames(ws.wait_eof(10)) if opcode == CLOSE]
    ws.close()
    assert [struct.unpack("!H", payload[:2])[0] for payload in closes] == [1002]


def test_ws_rfc_data_after_close_is_ignored(client):
    ws = client.websocket("/echo")
    ws.send_raw(frame(CLOSE, struct.pack("!H", 1000)) + frame(TEXT, b"late"))
    assert closed_with(ws, 1000)


def test_ws_rfc_a_reading_client_gets_a_stream_many_windows_long(client):
    """A client that reads keeps its writer going: behind Mongrel2, 8 MiB is eight times
    the bytes a writer may have out unconfirmed (its pings' pongs confirm them), and
    those pongs are the transport's, not the handler's."""
    ws = client.websocket("/stream")
    ws.send("stream 128")
    for index in range(128):
        message = ws.receive(timeout=10)
        assert message is not None and message[:4] == index.to_bytes(4, "big")
        assert len(message) == 4 + 65536
    assert ws.receive(timeout=10) == "done"
    ws.close()
    assert not [event for event in EVENTS if isinstance(event, tuple)]


def test_ws_rfc_slow_reader_bounded_then_dropped(client):
    """A client that never reads: the writer blocks (no buffering beyond the kernel's
    and a bounded queue), then the connection is dropped after write_timeout."""
    from brubeck import concurrency

    backend = concurrency.active()
    ws = client.websocket("/firehose")
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    ws.send("go")
    for _ in range(1000):  # bounded: 10 s
        if "stopped" in EVENTS:
            break
        backend.sleep(0.01)
    assert "stopped" in EVENTS
    written = max(e for e in EVENTS if isinstance(e, int))
    assert written < 200  # < 13 MB: what the kernel buffers hold, not 655 MB
    ws.sock.close()
