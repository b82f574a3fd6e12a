"""WebSockets behind Mongrel2 (issue 15): what brubeck/mongrel2/websocket.py adds to the
shared tests (which run over the real mongrel2 too, see conftest): the frame builder,
FLAGS and close parsing, final and non-final sends, broadcast in replies of 128 ids,
what Mongrel2 itself does with bad or never-ending input, and two worker processes
behind the dispatcher (and, to show why, without it)."""

from __future__ import annotations

import contextlib
import re
import struct
import subprocess
import sys
import time

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from brubeck.datastructures import Headers
from brubeck.mongrel2 import wire
from brubeck.mongrel2.sender import ReplySender
from brubeck.mongrel2.websocket import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    Mongrel2Transport,
    WebSockets,
    parse_close,
    parse_flags,
    peek_frame,
    server_frame,
)
from brubeck.testing import LiveClient
from brubeck.websocket import ProtocolError, broadcast
from tests.support.green import wait_for
from tests.support.mongrel2 import mongrel2_server, wait_until_replies_arrive
from tests.support.processes import ROOT, free_port, python_env, stop
from tests.websocket.app import EVENTS, ROOM, build_app
from tests.websocket.test_rfc6455 import CONTINUATION, frame
from tests.workers.support import supervised

SENDER = "0c5b8b40-0000-4000-8000-000000000001"

# -- the pieces, without I/O -----------------------------------------------------------


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_ws_mongrel2_1_server_frame_is_unmasked_final_and_parses(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = server_frame(BINARY, payload)
    assert data[0] == 0x80 | BINARY and not data[1] & 0x80  # FIN, never masked
    (parsed,) = _client_frames(data)  # as wsproto's client reads it
    assert parsed.opcode is Opcode.BINARY and parsed.message_finished
    assert bytes(parsed.payload) == payload


def _client_frames(data):
    protocol = FrameProtocol(client=True, extensions=[])
    protocol.receive_bytes(data)
    return list(protocol.received_frames())


@pytest.mark.parametrize(("flags", "expected"), [
    ("0x81", (0, TEXT)), ("0x82", (0, BINARY)), ("0x88", (0, CLOSE)), ("0x89", (0, PING)),
    ("0xC1", (0x40, TEXT)), ("0x83", (0, 3)), ("0x8B", (0, 0xB)),
])
def test_ws_mongrel2_1_flags_header_read_as_rsv_and_opcode(flags, expected):
    assert parse_flags(flags) == expected


@pytest.mark.parametrize("flags", [None, "", "zz", "0x"])
def test_ws_mongrel2_1_unreadable_flags_are_a_protocol_error(flags):
    with pytest.raises(ProtocolError) as error:
        parse_flags(flags)
    assert error.value.code == 1002


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", (None, "")),
    (struct.pack("!H", 1000) + b"bye", (1000, "bye")),
    (struct.pack("!H", 4999), (4999, "")),
    (struct.pack("!H", 1011) + "é".encode(), (1011, "é")),
])
def test_ws_mongrel2_1_close_frame_parsed(payload, expected):
    assert parse_close(payload) == expected


@pytest.mark.parametrize(("payload", "code"), [
    (b"\x03", 1002), (struct.pack("!H", 1005), 1002), (struct.pack("!H", 5000), 1002),
    (struct.pack("!H", 1000) + b"\xff", 1007),
])
def test_ws_mongrel2_1_bad_close_frame_refused(payload, code):
    with pytest.raises(ProtocolError) as error:
        parse_close(payload)
    assert error.value.code == code


def tnet(value):
    if isinstance(value, dict):
        inner = b"".join(tnet(k) + tnet(v) for k, v in value.items())
        return b"%d:%s}" % (len(inner), inner)
    return b"%d:%s," % (len(value), value)


def mongrel2_frame(meta, body=b"hi", conn_id=b"42"):
    headers = {b"REMOTE_ADDR": b"127.0.0.1", b"METHOD": b"WEBSOCKET", b"PATH": b"/echo",
               b"upgrade": b"websocket", b"user-agent": b"test", **meta}
    return SENDER.encode() + b" " + conn_id + b" /echo " + tnet(headers) + tnet(body)


@pytest.mark.parametrize("flags", [b"0x81", b"0x82", b"0x88", b"0xC1"])
def test_ws_mongrel2_1_frame_read_without_parsing_headers_as_the_parser_reads_it(flags):
    raw = mongrel2_frame({b"FLAGS": flags}, body=b"\x00caf\xc3\xa9 ,}")
    parsed = wire.parse_message(raw)
    assert peek_frame(raw) == (parsed.sender, parsed.conn_id, parsed.meta["FLAGS"],
                               parsed.body)


@pytest.mark.parametrize("raw", [
    mongrel2_frame({b"METHOD": b"GET"}),  # an HTTP request
    mongrel2_frame({b"METHOD": b"GET", b"x-a": b"6:METHOD,9:WEBSOCKET,5:FLAGS,4:0x81,"}),
    mongrel2_frame({b"FLAGS": b"0x81"})[:-3],  # cut short
    mongrel2_frame({b"FLAGS": b"0x81"}, conn_id=b"4 2"),
    mongrel2_frame({b"FLAGS": b"0x81"}).replace(b"6:METHOD", b"-9:METHOD"),
    SENDER.encode() + b' 42 /echo 40:{"METHOD":"WEBSOCKET","FLAGS":"0x81"},2:hi,',  # JSON
    b"",
])
def test_ws_mongrel2_1_anything_else_left_to_the_full_parser(raw):
    assert peek_frame(raw) is None


# -- sends: final or not, and broadcast -------------------------------------------------

class Recorder(ReplySender):
    """A Mongrel2Connection's send API, recording (frame, final) instead of publishing."""

    def __init__(self, app):
        self._app = app
        self._pub = object()
        self.sent = []

    def _publish(self, frame, final=True):
        self.sent.append((frame, final))


def message(method, conn_id="7", body=b"", version="13", **meta):
    headers = Headers({"upgrade": "websocket", "connection": "Upgrade", "host": "localhost",
                       "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
                       "sec-websocket-version": version})
    return wire.Message(SENDER, conn_id, "/echo", headers, body,
                        {"METHOD": method, "PATH": "/echo", "VERSION": "HTTP/1.1", **meta})


def test_ws_mongrel2_1_handshake_and_frames_non_final_close_final():
    connection = Recorder(build_app())
    sockets = WebSockets(connection)
    sockets.expect(message("WEBSOCKET_HANDSHAKE", body=b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    sockets.handshake(message("WEBSOCKET_HANDSHAKE", body=b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    head, final = connection.sent[0]
    assert head.startswith(wire.frame(SENDER, ["7"], b"HTTP/1.1 101 Switching Protocols\r\n"))
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    assert final is False
    sockets.feed(message("WEBSOCKET", body=b"hi", FLAGS="0x81"))
    assert wait_for(lambda: len(connection.sent) == 2)
    assert connection.sent[1] == (wire.frame(SENDER, ["7"], server_frame(TEXT, b"hi")), False)
    sockets.feed(message("WEBSOCKET", body=struct.pack("!H", 1000), FLAGS="0x88"))
    assert connection.sent[2:] == [
        (wire.frame(SENDER, ["7"], server_frame(CLOSE, struct.pack("!H", 1000))), False),
        (wire.frame(SENDER, ["7"], b""), True)]
    assert not sockets.open


def test_ws_mongrel2_1_refused_handshake_answered_then_closed():
    connection = Recorder(build_app())
    sockets = WebSockets(connection)
    refused = message("WEBSOCKET_HANDSHAKE", body=b"x", version="8")
    sockets.expect(refused)
    sockets.handshake(refused)
    (answer, final), (close, last) = connection.sent
    assert b"HTTP/1.1 426 " in answer and final is False
    assert (close, last) == (wire.frame(SENDER, ["7"], b""), True)


def test_ws_mongrel2_2_stray_frame_closed_1011(caplog):
    """Several workers PULLing from Mongrel2 directly: a frame for a connection another
    worker holds is failed loudly (1011, then closed), not dropped in silence."""
    connection = Recorder(build_app())
    WebSockets(connection).feed(message("WEBSOCKET", conn_id="9", body=b"x", FLAGS="0x81"))
    assert connection.sent == [
        (wire.frame(SENDER, ["9"], server_frame(CLOSE, struct.pack("!H", 1011))), False),
        (wire.frame(SENDER, ["9"], b""), True)]
    assert "through the dispatcher" in caplog.text


def test_ws_mongrel2_3_broadcast_one_reply_per_128_connections():
    connection = Recorder(build_app())
    sockets = WebSockets(connection)
    transports = [Mongrel2Transport(sockets, SENDER, str(n)) for n in range(300)]
    assert broadcast(transports, "news") == 300
    assert len(connection.sent) == 3  # 128 + 128 + 44 ids
    ids = [re.match(rb"\S+ \d+:([\d ]+), ", frame).group(1).split() for frame, _ in
           connection.sent]
    assert [len(batch) for batch in ids] == [128, 128, 44]
    assert all(frame.endswith(b", " + server_frame(TEXT, b"news")) and final is False
               for frame, final in connection.sent)


# -- through the real mongrel2 (an in-process worker: conftest's live_mongrel2) -----------

@pytest.fixture
def m2(live_mongrel2):
    EVENTS.clear()
    ROOM.clear()
    live_mongrel2.app = build_app()
    return LiveClient(live_mongrel2.url)


def test_ws_mongrel2_4_unmasked_frame_dropped_by_mongrel2_without_close_frame(m2):
    ws = m2.websocket("/echo")
    ws.send_raw(frame(TEXT, b"unmasked", mask=False))
    assert ws.receive(timeout=10) is None
    assert ws.close_code == 1006  # TCP closed, no close frame: Mongrel2 did it
    assert ws.wait_eof(10) == b""
    ws.close()


def test_ws_mongrel2_4_fragmented_message_reaches_worker_only_at_fin_then_1009(m2):
    """Mongrel2 joins fragments itself and has no size limit: a never-ending message
    is buffered in Mongrel2 and never reaches the worker; the limit (1000 bytes for
    /small) applies when the last fragment arrives."""
    ws = m2.websocket("/small")
    ws.send_raw(frame(TEXT, b"a" * 500, fin=False))
    for _ in range(40):  # 20 kB, 20 times the limit
        ws.send_raw(frame(CONTINUATION, b"a" * 500, fin=False))
    with pytest.raises(TimeoutError):
        ws.receive(timeout=1.0)  # nothing: the worker has not seen a byte of it
    ws.send_raw(frame(CONTINUATION, b"a"))
    assert ws.receive(timeout=10) is None
    assert ws.close_code == 1009
    ws.wait_eof(10)
    ws.close()


def test_ws_mongrel2_4_rsv_bits_and_reserved_opcodes_1002(m2):
    for bad in (frame(TEXT, b"x", rsv=4), frame(0x3, b"x"), frame(0xB, b"x")):
        ws = m2.websocket("/echo")
        ws.send_raw(bad)
        assert ws.receive(timeout=10) is None
        assert ws.close_code == 1002
        ws.wait_eof(10)
        ws.close()


def test_ws_mongrel2_4_close_reason_not_utf8_1007(m2):
    ws = m2.websocket("/echo")
    ws.send_raw(frame(CLOSE, struct.pack("!H", 1000) + b"\xc3\x28"))
    assert ws.receive(timeout=10) is None
    assert ws.close_code == 1007
    ws.close()


def test_ws_mongrel2_3_broadcast_reaches_200_clients(m2):
    sockets = [m2.websocket("/chat") for _ in range(200)]
    for ws in sockets:
        assert ws.receive() == "proto:None"
    assert wait_for(lambda: len(ROOM) == 200)
    sockets[0].send("to all")
    assert [ws.receive() for ws in sockets] == ["to all"] * 200
    for ws in sockets:
        ws.close()
    assert wait_for(lambda: not ROOM)


# -- two worker processes ---------------------------------------------------------------

def two_workers(tmp_path, *options):
    port = free_port()
    chroot = tmp_path / "m2"
    args = ["tests/websocket/mongrel2_app.py:app", "--mongrel2", "--workers", "2",
            "--mongrel2-dir", str(chroot), "--port", str(port), *options]
    return supervised(args, f"http://127.0.0.1:{port}", tmp_path, 2, chroot=chroot)


def test_ws_mongrel2_2_two_workers_behind_the_dispatcher_50_clients(tmp_path):
    with two_workers(tmp_path, "--dispatcher") as sup:
        client = LiveClient(sup.url)
        sockets = [client.websocket("/pid") for _ in range(50)]
        holders = [ws.receive() for ws in sockets]
        for round_ in range(5):
            for number, ws in enumerate(sockets):
                ws.send(f"{number}.{round_}")
            for number, ws in enumerate(sockets):
                assert ws.receive() == f"{number}.{round_}"
        for ws in sockets:
            ws.close()
            assert ws.close_code == 1000
        pids = {int(holder.split(":")[1]) for holder in holders}
        assert pids == set(sup.worker_pids())  # both workers held connections


def test_ws_mongrel2_2_direct_two_workers_frames_reach_the_wrong_worker(tmp_path):
    """Why the dispatcher: two workers PULLing from Mongrel2 directly get each other's
    frames (round robin); the worker without the connection closes it 1011 and says so."""
    with mongrel2_server(tmp_path / "m2") as server, contextlib.ExitStack() as stack:
        logs = []
        for number in range(2):
            log = stack.enter_context(open(tmp_path / f"worker-{number}.log", "w+b"))
            logs.append(log)
            proc = subprocess.Popen(
                [sys.executable, "-m", "brubeck", "serve", "tests/websocket/mongrel2_app.py:app",
                 "--connection", server.connection_url],
                cwd=ROOT, env=python_env(), stdout=log, stderr=subprocess.STDOUT)
            stack.callback(stop, proc)
        for _ in range(600):  # both workers connected (bounded: 60 s)
            if all(b" pulling " in (log.seek(0) or log.read()) for log in logs):
                break
            time.sleep(0.1)
        wait_until_replies_arrive(server.url)
        client = LiveClient(server.url)
        sockets = [client.websocket("/pid") for _ in range(10)]
        holders = {ws.receive() for ws in sockets}
        failed = 0
        for number, ws in enumerate(sockets):
            for round_ in range(4):
                ws.send(f"{number}.{round_}")
                if ws.receive() is None:
                    failed += 1
                    assert ws.close_code == 1011
                    break
        assert failed > 0  # 4 frames each: all on the right worker 1 time in 16
        assert len(holders) == 2  # both took handshakes
        said = b"".join(log.seek(0) or log.read() for log in logs)
        assert b"through the dispatcher" in said
        for ws in sockets:
            ws.close()


def test_ws_mongrel2_4_generated_config_raises_max_fd_and_sets_min_ping(tmp_path):
    import resource

    from brubeck.mongrel2.config import Mongrel2Config

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    text = Mongrel2Config(chroot=tmp_path).render()
    assert f"'superpoll.max_fd': {min(65536, hard)}" in text  # Mongrel2's own: 10240
    assert "'limits.min_ping': 120" in text
    text = Mongrel2Config(chroot=tmp_path, max_fd=4096, min_ping=0).render()
    assert "'superpoll.max_fd': 4096" in text and "'limits.min_ping': 0" in text
