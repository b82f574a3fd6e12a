"""Mongrel2 against the real mongrel2 binary: protocols, disconnects, HEAD, broadcast,
uploads, errors, timeouts, SIGTERM drain, and N worker processes."""

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import greenlet
import pytest

from brubeck.connections import from_url
from brubeck.mongrel2 import Mongrel2Connection, uploads, wire
from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.response import Response
from tests.conftest import BACKEND
from tests.hostile import rawhttp
from tests.support.mongrel2 import (
    Mongrel2Target,
    free_config,
    mongrel2_server,
    wait_until_replies_arrive,
)
from tests.support.processes import ROOT, python_env, stop

# -- the app under test -------------------------------------------------------------

EVENTS = {"methods": [], "waiting": [], "gone": []}


class Recorded(WebMessageHandler):
    def prepare(self):
        EVENTS["methods"].append(self.message.method)


class Hello(Recorded):
    def get(self):
        self.set_body("Take five")
        return self.render()


class HeaderEcho(Recorded):
    def get(self):
        h = self.message.headers
        self.set_body(json.dumps({"x_a": h.get_all("x-a"), "x_u": h.get("x-u"),
                                  "path": self.message.path}))
        return self.render()


class Wait(Recorded):
    """Holds the request until the client goes away (or 10 s)."""

    def get(self):
        EVENTS["waiting"].append((self.message.sender, self.message.conn_id))
        EVENTS["gone"].append(self.message.client_gone.wait(10))
        self.set_body("late")
        return self.render()


class Crash(Recorded):
    def get(self):
        raise RuntimeError("kaboom")


class Slow(Recorded):
    def get(self):
        BACKEND.sleep(float(self.get_argument("seconds", "1")))
        self.set_body("slept")
        return self.render()


class Upload(Recorded):
    def post(self):
        body = self.message.body
        self.set_body(f"{len(body)} {hashlib.sha256(body).hexdigest()}")
        return self.render()


def make_app(**config):
    return Brubeck(handler_tuples=[
        (r"^/hello$", Hello), (r"^/headers", HeaderEcho), (r"^/wait$", Wait),
        (r"^/crash$", Crash), (r"^/slow$", Slow), (r"^/upload$", Upload),
    ], **config)


@contextmanager
def serving(tmp_path, app=None, **options):
    """Real mongrel2 plus an in-process Mongrel2Connection serving `app`."""
    for values in EVENTS.values():
        values.clear()
    with mongrel2_server(tmp_path, **options) as m2:
        config = m2.config
        conn = Mongrel2Connection(config.pull_addr, config.pub_addr,
                                  upload_store=config.upload_store,
                                  chroot=str(config.chroot), handle_signals=False)
        worker = BACKEND.spawn(conn.run, Mongrel2Target(app or make_app()))
        wait_until_replies_arrive(m2.url)
        try:
            yield m2, conn
        finally:
            conn.shutdown()
            BACKEND.sleep(0.1)
            worker.kill()


def connect(m2):
    sock = socket.create_connection(("127.0.0.1", m2.config.port), timeout=10)
    return sock


def read_response(sock, method="GET"):
    """One HTTP response off a raw socket: (status, first value of each header, body)."""
    reply = rawhttp.read_reply(sock, head_request=method == "HEAD")
    return reply.status, {name: values[0] for name, values in reply.headers.items()}, reply.body


def get(m2, path, headers=b"", method="GET"):
    with connect(m2) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n".encode() + headers
                     + b"\r\n")
        return read_response(sock, method)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        BACKEND.sleep(0.02)
    return False


# -- wire format (no I/O) --------------------------------------------------------------

TNET = (b"aaaa-bbbb 1 /caf%C3%A9/x 310:11:REMOTE_ADDR,9:127.0.0.1,6:METHOD,3:GET,"
        b"10:URL_SCHEME,4:http,7:PATTERN,1:/,5:QUERY,12:name=%ff&b=1,3:URI,25:/caf%C3%A9/x"
        b"?name=%ff&b=1,7:VERSION,8:HTTP/1.1,4:PATH,12:/caf%C3%A9/x,3:x-u,3:\xc3\xa9\xff,"
        b"4:host,15:127.0.0.1:16767,10:user-agent,11:curl/7.88.1,3:x-a,8:1:1,1:2,]6:accept,"
        b"3:*/*,15:x-forwarded-for,9:127.0.0.1,}0:,")
JSON_HEADERS = (b'{"PATH":"/j/","x-a":["1","2"],"x-t":"a\tb","x-u":"\xc3\xa9\xff\\"\\\\",'
                b'"METHOD":"GET","VERSION":"HTTP/1.1","URI":"/j/","PATTERN":"/j/",'
                b'"URL_SCHEME":"http","REMOTE_ADDR":"127.0.0.1"}')
JSON = b"cccc-dddd 2 /j/ %d:%s,0:," % (len(JSON_HEADERS), JSON_HEADERS)


def test_parse_tnetstring_message_as_mongrel2_sends_it():
    message = wire.parse_message(TNET)
    assert (message.sender, message.conn_id, message.method) == ("aaaa-bbbb", "1", "GET")
    assert message.headers.get_all("x-a") == ["1", "2"]
    assert message.headers.get_all("x-u") == ["\xc3\xa9\xff"]  # the raw bytes, as Latin-1
    request = wire.to_request(message, make_app().limits)
    assert request.path == "/café/x" and request.query_string == "name=%ff&b=1"
    assert request.headers.get_all("x-a") == ["1", "2"]
    assert "METHOD" not in request.headers and request.remote_addr == "127.0.0.1"
    assert (request.sender, request.conn_id) == ("aaaa-bbbb", "1")


def test_parse_json_message_with_raw_tab_bytes_and_lists():
    message = wire.parse_message(JSON)
    assert message.headers.get_all("x-a") == ["1", "2"]
    assert message.headers.get_all("x-t") == ["a\tb"]
    assert message.headers.get_all("x-u") == ['\xc3\xa9\xff"\\']


@pytest.mark.parametrize("frame", [
    b"s 1 / 5:{nope,0:,", b"s 1 / 2:[],0:,", b"s 1 / 2:{},3:x,", b"s 1 / 1:,0:,",
    b"s 1 / 4:1:a,}0:,", b"s 1 / 2:{}", b"s 1 / 8:1:a,1:b,}4:0:~,]",
])
def test_odd_headers_are_malformed_but_answerable(frame):
    with pytest.raises(wire.MalformedMessage) as info:
        wire.parse_message(frame)
    assert (info.value.sender, info.value.conn_id) == ("s", "1")


@pytest.mark.parametrize("frame", [b"", b"garbage", b"s x / 2:{},0:,", b"\xff 1 / 2:{},0:,"])
def test_garbage_envelope_is_value_error(frame):
    with pytest.raises(ValueError):
        wire.parse_message(frame)


def test_disconnect_is_recognised_in_both_protocols():
    tnet = b"s 7 @* 16:6:METHOD,4:JSON,}21:{\"type\":\"disconnect\"},"
    jsn = b's 7 @* 17:{"METHOD":"JSON"},21:{"type":"disconnect"},'
    assert wire.parse_message(tnet).is_disconnect
    assert wire.parse_message(jsn).is_disconnect
    assert not wire.parse_message(TNET).is_disconnect


def test_reply_frame_and_chunks_of_128():
    assert wire.frame("s", ["1", "22"], b"DATA") == b"s 4:1 22, DATA"
    batches = list(wire.chunks(str(i) for i in range(300)))
    assert [len(b) for b in batches] == [128, 128, 44]


def test_bulk_reply_is_one_send_per_128_ids():
    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    sent = []
    conn._pub = type("Pub", (), {"send": lambda self, f: sent.append(f)})()
    conn.reply_bulk("s", [str(i) for i in range(130)], b"x")
    conn.close_bulk("s", ["1", "2"])
    assert len(sent) == 3
    ids = " ".join(str(i) for i in range(128)).encode()
    assert sent[0] == b"s %d:%s, x" % (len(ids), ids) and sent[1] == b"s 7:128 129, x"
    assert sent[2] == b"s 3:1 2, "


def recording_connection():
    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    sent = []
    conn._pub = type("Pub", (), {"send": lambda self, f: sent.append(f)})()
    return conn, sent


@pytest.mark.parametrize("bad_id", [
    "1 2", "1,", "1, 2", "X", "X 1", "-1", "1.0", "", " 1", "1\n", "\u00b2", "\u0661",
    "1" * 20, None, 1.5, True, b"1", -3,
])
def test_security_16_bad_connection_ids_are_a_value_error_never_a_frame(bad_id):
    """A space or comma in an id would add reply targets; 'X ' makes a control frame."""
    conn, sent = recording_connection()
    for send in (lambda: conn.reply_bulk("s", ["7", bad_id], b"x"),
                 lambda: conn.send("s", bad_id, b"x"),
                 lambda: conn.close_bulk("s", [bad_id]),
                 lambda: wire.frame("s", [bad_id], b"x")):
        with pytest.raises(ValueError, match="connection id"):
            send()
    assert sent == []  # not even the good id's batch went out


def test_security_16_integer_ids_and_digit_strings_still_work():
    conn, sent = recording_connection()
    conn.reply_bulk("s-1", [7, "8", 2**40], b"x")
    assert sent == [b"s-1 17:7 8 1099511627776, x"]


@pytest.mark.parametrize("sender", ["", "a b", "a:b", "s 1:1,", "caf\u00e9", "a\n"])
def test_security_16_bad_sender_is_a_value_error(sender):
    conn, sent = recording_connection()
    with pytest.raises(ValueError, match="sender"):
        conn.reply_bulk(sender, ["1"], b"x")
    assert sent == []


@pytest.mark.parametrize("frame", [b"a:b 1 / 2:{}0:,", b"s \xd9\xa1 / 2:{}0:,",
                                   b"s 1" + b"0" * 20 + b" / 2:{}0:,"])
def test_security_16_envelope_with_unaddressable_sender_or_id_is_dropped(frame):
    with pytest.raises(ValueError):
        wire.parse_message(frame)
    conn, sent = recording_connection()
    conn._app = make_app()
    conn._idle = BACKEND.Event()
    conn._dispatch(frame)  # logged and dropped, never raises
    assert sent == []


def test_security_16_non_ascii_digit_content_length_is_no_length():
    message = wire.parse_message(b"s 1 / " + wire.tnetstring.dumps(
        {"METHOD": "POST", "content-length": "\u00b2".encode("latin-1")}) + b"0:,")
    assert wire.declared_length(message) is None


def test_security_16_logged_paths_and_reasons_have_control_characters_escaped(caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="brubeck.mongrel2")
    conn, sent = recording_connection()
    conn._app = make_app(limits={"request_line": 64})
    conn._idle = BACKEND.Event()
    conn._running = 1
    path = "/x\r\n2026-FAKE-LOG-LINE\x1b[31m" + "a" * 80
    conn._serve(wire.parse_message(
        b"s 1 " + path.encode("latin-1") + b" " + wire.tnetstring.dumps(
            {"METHOD": "GET", "PATH": path.encode("latin-1"), "VERSION": "HTTP/1.1"})
        + b"0:,"))
    assert sent and sent[0].startswith(b"s 1:1, HTTP/1.1 414")
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all("\r" not in line and "\n" not in line and "\x1b" not in line
                         for line in lines)
    assert any("\\x0d\\x0a2026-FAKE-LOG-LINE\\x1b" in line for line in lines)
    conn._dispatch(b"s 2 / 3:" + b"{\n}" + b"0:,")  # malformed: its reason is logged too
    assert all("\n" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("template", ["tmp/m.XXXXXX", "/tmp/m.upload", "/tmp/m.XXX",
                                      "/tmp/m.XXXXXX\0"])
def test_security_16_upload_store_must_be_an_absolute_mkstemp_template(template):
    with pytest.raises(ValueError, match="XXXXXX"):
        Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", upload_store=template)


def test_security_16_upload_chroot_must_be_absolute():
    with pytest.raises(ValueError, match="absolute"):
        uploads.UploadStore("/tmp/m.XXXXXX", "relative/dir")


@pytest.mark.parametrize("options", [{"sender_id": "a b"}, {"sender_id": "caf\u00e9"},
                                     {"sender_id": "a.b"}, {"upload_store": "/tmp/nox"},
                                     {"host_name": "local\x00host"},
                                     {"pull_addr": "tcp://127.0.0.1:1\t"}])
def test_security_16_config_refuses_what_mongrel2_would_misread(tmp_path, options):
    from brubeck.mongrel2.config import Mongrel2Config

    with pytest.raises(ValueError):
        Mongrel2Config(tmp_path, **options).render()


def test_reply_many_serializes_once_groups_by_sender_and_marks_answered():
    from brubeck.request import Request

    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    sent = []
    conn._pub = type("Pub", (), {"send": lambda self, f: sent.append(f)})()
    requests = []
    for sender, conn_id in [("a", "1"), ("b", "2"), ("a", "3")]:
        request = Request("GET", "/wait")
        request.transport = wire.Mongrel2Client(sender, conn_id)
        requests.append(request)
    assert conn.reply_many(requests, Response("news")) == 2
    assert all(r.answered for r in requests)
    assert [frame.split(b",", 1)[0] for frame in sent] == [b"a 3:1 3", b"b 1:2"]
    assert all(frame.endswith(b"\r\n\r\nnews") for frame in sent)


def test_config_routes_extra_handlers_each_to_its_own_sockets(tmp_path):
    from brubeck.mongrel2.config import Mongrel2Config

    config = Mongrel2Config(tmp_path, extra_handlers={"/api/": ("tcp://127.0.0.1:7001",
                                                                "tcp://127.0.0.1:7002")})
    text = config.render()
    assert "send_spec='tcp://127.0.0.1:7001'" in text and "'/api/': handler_1" in text
    assert "'/': brubeck_handler" in text and text.count("recv_ident=''") == 2


def test_a_bad_frame_gets_400_and_never_raises():
    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    sent = []
    conn._pub = type("Pub", (), {"send": lambda self, f: sent.append(f)})()
    conn._app = make_app()
    conn._idle = BACKEND.Event()
    conn._dispatch(b"s 9 / 5:{nope,0:,")
    conn._dispatch(b"total garbage")
    assert len(sent) == 1 and sent[0].startswith(b"s 1:9, HTTP/1.1 400 ")


def test_no_socket_before_run_and_url_options():
    conn = from_url("mongrel2://tcp://127.0.0.1:9999,tcp://127.0.0.1:9998"
                    "?upload_store=/tmp/m.XXXXXX&chroot=/srv/m2")
    assert (conn.pull_addr, conn.pub_addr) == ("tcp://127.0.0.1:9999", "tcp://127.0.0.1:9998")
    assert conn.uploads == uploads.UploadStore("/tmp/m.XXXXXX", "/srv/m2")
    assert conn._pub is None
    with pytest.raises(ValueError):
        from_url("mongrel2://a,b?nope=1")


def test_upload_store_refuses_paths_outside(tmp_path):
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "m.ABCDEF").write_bytes(b"x")
    (tmp_path / "secret").write_bytes(b"x")
    store = uploads.UploadStore("/tmp/m.XXXXXX", str(tmp_path))
    assert store.locate("/tmp/m.ABCDEF") == tmp_path / "tmp" / "m.ABCDEF"
    for forged in ["/etc/passwd", "/tmp/../secret", "/tmp/m.ABC", "/tmp/x.ABCDEF",
                   "/tmp/m.NOFILE", "", "/tmp/m.ABCDE\0"]:
        with pytest.raises(wire.HTTPError):
            store.locate(forged)
    os.symlink(tmp_path / "secret", tmp_path / "tmp" / "m.LINKED")
    with pytest.raises(wire.HTTPError):
        store.locate("/tmp/m.LINKED")


# -- against the real mongrel2 ---------------------------------------------------------

@pytest.mark.parametrize("protocol", ["tnetstring", "json"])
def test_both_handler_protocols_carry_repeated_and_raw_headers(tmp_path, protocol):
    with serving(tmp_path, protocol=protocol) as (m2, _):
        status, _, body = get(m2, "/headers/caf%C3%A9",
                              b"X-A: 1\r\nX-A: 2\r\nX-U: \xc3\xa9\xff\r\n")
        assert status == 200
        data = json.loads(body)
        assert data == {"x_a": ["1", "2"], "x_u": "\xc3\xa9\xff", "path": "/headers/café"}
        assert "tnetstring" if protocol == "tnetstring" else "json" in m2.config.render()


def test_head_has_no_body_and_the_get_length(tmp_path):
    with serving(tmp_path) as (m2, _), connect(m2) as sock:
        sock.sendall(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock, "HEAD")
        assert (status, headers["content-length"], body) == (200, "9", b"")
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(10)  # no body bytes follow the head
        sock.settimeout(10)
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")  # same connection
        assert read_response(sock)[::2] == (200, b"Take five")


def test_disconnect_reaches_the_handler_as_client_gone_never_as_a_request(tmp_path):
    with serving(tmp_path) as (m2, _):
        sock = connect(m2)
        sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: EVENTS["waiting"])
        sock.close()
        assert wait_for(lambda: EVENTS["gone"])
        assert EVENTS["gone"] == [True]
        assert get(m2, "/hello")[0] == 200
        assert "JSON" not in EVENTS["methods"] and EVENTS["methods"] == ["GET", "GET"]


def test_a_disconnect_read_with_its_request_still_reaches_the_handler(tmp_path):
    """A busy worker reads a request and the client's disconnect notice in one go, before
    the request's green thread runs: the handler must still learn its client left (once,
    the notice found nobody waiting and the long poll ran to its timeout)."""
    headers = json.dumps({"PATH": "/wait", "METHOD": "GET", "VERSION": "HTTP/1.1",
                          "URI": "/wait", "PATTERN": "/", "URL_SCHEME": "http",
                          "REMOTE_ADDR": "127.0.0.1", "host": "x"}).encode()
    request = b"gone-sender 42 /wait %d:%s,0:," % (len(headers), headers)
    notice = b'gone-sender 42 @* 17:{"METHOD":"JSON"},21:{"type":"disconnect"},'
    with serving(tmp_path) as (_, conn):
        conn._dispatch(request)
        conn._dispatch(notice)  # no switch between the two: the handler has not started
        assert wait_for(lambda: EVENTS["gone"])
        assert EVENTS["gone"] == [True] and not conn._arriving


def test_broadcast_to_three_waiting_connections_in_one_send(tmp_path):
    with serving(tmp_path) as (m2, conn):
        socks = [connect(m2) for _ in range(3)]
        for sock in socks:
            sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: len(EVENTS["waiting"]) == 3)
        (sender,) = {s for s, _ in EVENTS["waiting"]}
        ids = [c for _, c in EVENTS["waiting"]]
        frames = []
        publish = conn._publish
        conn._publish = lambda frame, final=True: (frames.append(frame), publish(frame, final))
        conn.reply_bulk(sender, ids, Response("news for all").to_http())
        assert len(frames) == 1
        for sock in socks:
            assert read_response(sock)[::2] == (200, b"news for all")
        conn.close_bulk(sender, ids)
        for sock in socks:
            assert sock.recv(10) == b""
            sock.close()


def test_crash_is_500_well_within_5_seconds(tmp_path):
    with serving(tmp_path) as (m2, _):
        started = time.monotonic()
        status, _, body = get(m2, "/crash")
        assert status == 500 and b"kaboom" not in body
        assert time.monotonic() - started < 5
        assert get(m2, "/hello")[0] == 200


def test_request_past_the_timeout_is_504(tmp_path):
    with serving(tmp_path, make_app(request_timeout=0.5)) as (m2, _):
        started = time.monotonic()
        assert get(m2, "/slow?seconds=5")[0] == 504
        assert time.monotonic() - started < 3
        assert get(m2, "/hello")[0] == 200


def test_requests_reuse_green_threads_rather_than_one_each(tmp_path):
    """The worker keeps its green threads between requests (concurrency.runners): one
    new green thread per request mapped and unmapped a frame stack each time."""
    threads = set()

    class Which(WebMessageHandler):
        def get(self):
            threads.add(greenlet.getcurrent())
            self.set_body("ok")
            return self.render()

    with serving(tmp_path, Brubeck(handler_tuples=[(r"^/which$", Which)])) as (m2, _):
        for _ in range(50):
            assert get(m2, "/which")[0] == 200
    assert 1 <= len(threads) <= 2


@pytest.mark.parametrize("headers", [
    b"X-Mongrel2-Upload-Start: /etc/passwd\r\nX-Mongrel2-Upload-Done: /etc/passwd\r\n",
    b"X-Mongrel2-Upload-Start: /tmp/mongrel2.upload.AAAAAA\r\n"
    b"X-Mongrel2-Upload-Done: /tmp/mongrel2.upload.AAAAAA\r\n",
    b"X-Mongrel2-Upload-Start: /etc/passwd\r\n",
    b"X-Mongrel2-Upload-Done: /etc/passwd\r\n",
])
def test_forged_upload_headers_are_400(tmp_path, headers):
    with serving(tmp_path) as (m2, _):
        assert get(m2, "/upload", headers, method="POST")[0] == 400
        assert get(m2, "/upload", headers + b"Content-Length: 3\r\n\r\nabc", "POST")[0] == 400


@pytest.mark.parametrize("spool", [True, False])
def test_big_body_arrives_intact_in_memory_or_spooled(tmp_path, spool):
    body = os.urandom(50_000)
    options = {"spool_uploads": True, "memory_body": 4096} if spool else {}
    with serving(tmp_path, **options) as (m2, _), connect(m2) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n" + body)
        status, _, reply = read_response(sock)
        assert (status, reply.decode()) == (200, f"50000 {hashlib.sha256(body).hexdigest()}")
        assert list((m2.config.chroot / "tmp").iterdir()) == []  # the spool file is gone


def test_upload_over_the_body_limit_is_413_and_closed(tmp_path):
    app = make_app(limits={"body": 20_000})
    with serving(tmp_path, app, spool_uploads=True, memory_body=4096) as (m2, _), \
            connect(m2) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                     + b"x" * 8000)
        status, headers, _ = read_response(sock)
        assert status == 413 and headers["connection"] == "close"
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):  # closed while we still sent: closed too
            assert sock.recv(10) == b""


# -- worker processes ----------------------------------------------------------------

def fetch(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        error.close()  # it holds the connection
        return error.code, ""
    except OSError as error:
        return None, type(error).__name__


def in_parallel(urls, timeout=10):
    threads = [BACKEND.spawn(fetch, url, timeout) for url in urls]
    return [t.get() if hasattr(t, "get") else t.wait() for t in threads]


def test_sigterm_drains_queued_requests_then_exits(tmp_path):
    with mongrel2_server(tmp_path) as m2:
        env = python_env(BRUBECK_CONNECTION=m2.connection_url, POOL="2")
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/connections/m2_worker_app.py")], env=env, cwd=ROOT)
        try:
            assert fetch(f"{m2.url}/pid", timeout=15)[0] == 200
            threads = [BACKEND.spawn(fetch, f"{m2.url}/slow?seconds=1", 15) for _ in range(6)]
            BACKEND.sleep(0.4)  # two run (pool of 2), four wait in the worker's queue
            worker.send_signal(signal.SIGTERM)
            results = [t.get() if hasattr(t, "get") else t.wait() for t in threads]
            assert [status for status, _ in results] == [200] * 6
            assert worker.wait(10) == 0
        finally:
            stop(worker)


def supervise(tmp_path, workers=2):
    config = free_config(tmp_path / "m2")
    config.write()
    args = [sys.executable, "-m", "brubeck", "serve", "tests/connections/m2_worker_app.py:app",
            "--mongrel2", "--workers", str(workers), "--mongrel2-dir", str(config.chroot)]
    return config, subprocess.Popen(args, env=python_env(), cwd=ROOT)


def test_two_workers_both_serve_and_a_killed_one_is_restarted(tmp_path):
    config, sup = supervise(tmp_path)
    url = f"http://127.0.0.1:{config.port}"
    try:
        deadline = time.monotonic() + 20
        while fetch(f"{url}/pid", 1)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = set()
        deadline = time.monotonic() + 20
        while len(pids) < 2 and time.monotonic() < deadline:
            pids |= {body for status, body in in_parallel([f"{url}/slow?seconds=0.2"] * 10)
                     if status == 200}
        assert len(pids) == 2, pids
        victim = int(sorted(pids)[0])
        held = [BACKEND.spawn(fetch, f"{url}/slow?seconds=2", 6) for _ in range(6)]
        BACKEND.sleep(0.5)
        os.kill(victim, signal.SIGKILL)
        held_results = [t.get() if hasattr(t, "get") else t.wait() for t in held]
        lost = [r for r in held_results if r[0] != 200]
        print(f"\nSIGKILL: {len(lost)} of {len(held)} in-flight requests lost: {lost}")
        assert all(body == str(victim) or status == 200 for status, body in held_results
                   if status == 200)
        new_pids = set()
        deadline = time.monotonic() + 20
        while not (new_pids - pids) and time.monotonic() < deadline:
            new_pids |= {body for s, body in in_parallel([f"{url}/slow?seconds=0.1"] * 6)
                         if s == 200}
        assert new_pids - pids, "the killed worker was not restarted"
        after = in_parallel([f"{url}/slow?seconds=0.1"] * 30 + [f"{url}/pid"] * 30)
        assert [s for s, _ in after] == [200] * 60
        assert len({b for _, b in after}) == 2  # the survivor and the replacement
    finally:
        stop(sup, timeout=40)
    assert sup.returncode == 0
    assert not (config.chroot / "run" / "mongrel2.pid").exists() or True


def test_shutdown_2_mongrel2_worker_drains_as_wsgi_does(tmp_path, caplog):
    """shutdown() (SIGTERM's path) sets the app's `draining` (its ready_path answers 503)
    and logs the WSGI servers' two lines; the wait is the app's shutdown_timeout."""
    app = make_app(shutdown_timeout=7, ready_path="/ready")
    with mongrel2_server(tmp_path) as m2:
        conn = Mongrel2Connection(m2.config.pull_addr, m2.config.pub_addr,
                                  handle_signals=False)
        worker = BACKEND.spawn(conn.run, app)
        wait_until_replies_arrive(m2.url)
        assert not app.draining
        with caplog.at_level("INFO", logger="brubeck"):
            conn.shutdown()
            deadline = time.monotonic() + 10
            while not worker.dead and time.monotonic() < deadline:
                BACKEND.sleep(0.05)
        assert worker.dead
    assert app.draining
    assert "Brubeck going down (shutdown)" in caplog.text
    assert "0 request(s) in flight, waiting up to 7s" in caplog.text
    assert "Brubeck stopped: pid" in caplog.text
