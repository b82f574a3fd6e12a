"""Malformed Mongrel2 messages pushed straight at a worker's PULL socket.

Mongrel2 never sends these, but anything that can reach the socket can. Each
is logged and dropped, or answered 400 (413 when too big) when its envelope
names a connection; after each, a normal request must still get its 200.
One worker serves the whole module, so a message that killed it would fail
every case after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from brubeck import concurrency
from brubeck.limits import DEFAULT_LIMITS
from brubeck.mongrel2 import Mongrel2Connection, tnetstring
from tests.hostile.app import build_hostile_app
from tests.hostile.fake_mongrel2 import SENDER, FakeMongrel2, request_frame

DROPPED = None
GOOD = request_frame("{id}")
HEAD = f"{SENDER} {{id}} / ".encode()
NULL_BODY = b"0:,"
DEEP_JSON = b"[" * 100_000


@dataclass(frozen=True)
class Bad:
    name: str
    frame: bytes  # `{id}` is replaced by the connection id
    answer: int | None  # the status sent to that connection, or DROPPED
    logged: bool = True  # only a disconnect is ordinary traffic


def tnet_headers(headers: dict) -> bytes:
    return HEAD + tnetstring.dumps(headers) + NULL_BODY


def json_headers(text: bytes) -> bytes:
    return HEAD + b"%d:%s," % (len(text), text) + NULL_BODY


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def deep_tnet(depth: int) -> bytes:
    """`depth` nested lists, written out without recursion (dumps would recurse)."""
    out = b"0:]"
    for _ in range(depth):
        out = b"%d:%s]" % (len(out), out)
    return out


BIG = DEFAULT_LIMITS.body + 1

BAD: list[Bad] = [
    # -- the envelope: nothing to answer, so dropped ------------------------------------
    Bad("empty frame", b"", DROPPED),
    Bad("no spaces at all", b"garbage", DROPPED),
    Bad("two fields", f"{SENDER} {{id}}".encode(), DROPPED),
    Bad("three fields", f"{SENDER} {{id}} /".encode(), DROPPED),
    Bad("connection id not a number", f"{SENDER} x{{id}} / 2:{{}}0:,".encode(), DROPPED),
    Bad("sender not ASCII", b"\xff\xfe {id} / 2:{}0:,", DROPPED),
    # -- netstring lengths ------------------------------------------------------------
    Bad("headers longer than the frame", HEAD + b"99:0:~,}0:,", 400),
    Bad("length with a letter", HEAD + b"1x:{},0:,", 400),
    Bad("negative length", HEAD + b"-2:{},0:,", 400),
    Bad("huge length, 9 digits", HEAD + b"999999999:{}0:,", 400),
    Bad("huge length, 30 digits", HEAD + b"9" * 30 + b":{}0:,", 400),
    Bad("no length at all", HEAD + b":{}0:,", 400),
    Bad("body longer than the frame", HEAD + tnetstring.dumps({}) + b"50:abc,", 400),
    Bad("body of a huge length", HEAD + tnetstring.dumps({}) + b"99999999:abc,", 400),
    # -- tnetstring headers --------------------------------------------------------------
    Bad("headers of garbage", HEAD + b"5:{nope,0:,", 400),
    Bad("headers a list", HEAD + tnetstring.dumps([b"a"]) + NULL_BODY, 400),
    Bad("headers an int", HEAD + tnetstring.dumps(5) + NULL_BODY, 400),
    Bad("unknown type character", HEAD + b"2:{}X0:,", 400),
    Bad("dict key without a value", HEAD + b"4:1:a,}0:,", 400),
    Bad("dict key not a string", HEAD + b"8:1:1#1:b,}0:,", 400),
    Bad("bad int", HEAD + b"14:1:a,3:1x2#}0:,", 400),
    Bad("bad bool", HEAD + b"14:1:a,3:yes!}0:,", 400),
    Bad("null with a payload", HEAD + b"11:1:a,1:x~}0:,", 400),
    Bad("float of garbage", HEAD + b"14:1:a,3:abc^}0:,", 400),
    Bad("nested 40 deep", tnet_headers({"a": nested(40)}), 400),
    Bad("nested 10 000 deep, by hand", HEAD + deep_tnet(10_000) + NULL_BODY, 400),
    # -- JSON headers (the `json` handler protocol) -------------------------------------
    Bad("JSON cut short", json_headers(b'{"METHOD": "GET", "PATH":'), 400),
    Bad("JSON a list", json_headers(b'["METHOD", "GET"]'), 400),
    Bad("JSON nested 100 000 deep", json_headers(DEEP_JSON), 400),
    Bad("JSON of raw bytes", json_headers(b'{"\xff": "\xfe", "PATH": 1'), 400),
    # -- truncated and extra fields ----------------------------------------------------
    Bad("frame cut in the headers", GOOD[:len(GOOD) // 2], 400),
    Bad("frame without its body", GOOD[:GOOD.rindex(b"0:,")], 400),
    Bad("frame without the last comma", GOOD[:-1], 400),
    Bad("trailing bytes after the body", GOOD + b"junk", 400),
    Bad("a fourth field before the headers", HEAD + b"extra " + GOOD[len(HEAD):], 400),
    Bad("body not a string", HEAD + tnetstring.dumps({}) + b"1:1#", 400),
    # -- messages that parse, but lie --------------------------------------------------
    Bad("body longer than its Content-Length",
        request_frame("{id}", "/echo", "POST", b"abc", content_length="1"), 400),
    Bad("two Content-Lengths", HEAD + tnetstring.dumps(
        {"METHOD": "POST", "PATH": "/echo", "content-length": ["3", "3"]})
        + tnetstring.dumps(b"abc"), 400),
    Bad("huge body", request_frame("{id}", "/echo", "POST", b"x" * BIG), 413),
    Bad("request line over 8 KiB", request_frame("{id}", "/brubeck?" + "a" * 8200), 414),
    Bad("deep JSON in a JSON-method message",
        HEAD + tnetstring.dumps({"METHOD": "JSON"}) + tnetstring.dumps(DEEP_JSON), DROPPED),
    Bad("disconnect of an unknown connection",
        HEAD + tnetstring.dumps({"METHOD": "JSON"}) + tnetstring.dumps(b'{"type":"disconnect"}'),
        DROPPED, logged=False),
]


@pytest.fixture(scope="module")
def fake_m2():
    """A worker (in this process) behind a fake Mongrel2 that sends whatever we like."""
    backend = concurrency.active()
    m2 = FakeMongrel2(backend)
    conn = Mongrel2Connection(m2.pull_addr, m2.pub_addr, drain_timeout=2, handle_signals=False)
    worker = backend.spawn(conn.run, build_hostile_app())
    m2.ids = iter(range(1, 1_000_000))
    yield m2
    conn.shutdown()
    backend.sleep(0.2)
    worker.kill()
    m2.close()


def normal_request_succeeds(m2) -> None:
    conn_id = str(next(m2.ids))
    m2.send(GOOD.replace(b"{id}", conn_id.encode()))
    reply = m2.replies_until(conn_id)[-1]
    assert reply.status == 200 and reply.data.endswith(b"Take five")


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_malformed_message_is_dropped_or_answered_and_worker_lives(fake_m2, bad, caplog):
    caplog.set_level(logging.DEBUG, logger="brubeck.mongrel2")
    normal_request_succeeds(fake_m2)  # also waits out the slow joiner on the first case
    conn_id = str(next(fake_m2.ids))
    fake_m2.send(bad.frame.replace(b"{id}", conn_id.encode()))
    if bad.answer is DROPPED:
        normal_request_succeeds(fake_m2)
        logged = [r for r in caplog.records if r.name == "brubeck.mongrel2"]
        assert bool(logged) == bad.logged, "a dropped message must be logged"
        return
    replies = [r for r in fake_m2.replies_until(conn_id) if conn_id in r.conn_ids]
    assert replies[0].status == bad.answer, replies[0].data[:200]
    assert b"Traceback" not in replies[0].data
    if bad.answer >= 400:
        assert any(r.levelno >= logging.INFO for r in caplog.records
                   if r.name.startswith("brubeck")), "a refused message must be logged"
    normal_request_succeeds(fake_m2)


def test_a_burst_of_every_bad_message_leaves_the_worker_serving(fake_m2):
    """All of them at once, queued in the PULL socket, then 50 normal requests."""
    for bad in BAD * 3:
        fake_m2.send(bad.frame.replace(b"{id}", str(next(fake_m2.ids)).encode()))
    for _ in range(50):
        normal_request_succeeds(fake_m2)


def test_parsing_memos_stay_bounded_and_never_admit_a_bad_sender():
    """parse_message remembers header keys and senders it has read (issue 17): clients
    choose header names, so the memo is bounded, and a sender is remembered only once
    checked."""
    from brubeck.mongrel2 import wire

    for n in range(2000):
        headers = {"METHOD": "GET", "PATH": "/", f"x-custom-{n}": f"v{n}"}
        raw = b"%s 7 / %s0:," % (SENDER.encode(), tnetstring.dumps(headers))
        message = wire.parse_message(raw)
        assert message.headers.get(f"X-Custom-{n}") == f"v{n}"
        assert message.method == "GET"
    assert len(wire._KEYS) <= 512
    for bad in (b"bad,sender", b"caf\xc3\xa9", b""):
        with pytest.raises(ValueError):
            wire.parse_message(b"%s 7 / %s0:," % (bad, tnetstring.dumps({"METHOD": "GET"})))
        assert bad not in wire._SENDERS
    for bad_id in (b"", b"12a", b"\xd9\xa1", b"1" * 20):
        with pytest.raises(ValueError):
            wire.parse_message(b"%s %s / %s0:," % (SENDER.encode(), bad_id,
                                                   tnetstring.dumps({"METHOD": "GET"})))
    with pytest.raises(ValueError):
        wire.frame("bad sender", ["1"], b"x")
    with pytest.raises(ValueError):
        wire.frame(SENDER, ["\u0661"], b"x")  # an Arabic-Indic digit is not an id
