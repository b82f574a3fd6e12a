"""Property tests over what a Mongrel2 worker parses: tnetstrings, message frames, requests.

Whatever bytes arrive, parsing ends in a value, a ValueError (the worker logs
and drops, or answers 400) or a 4xx HTTPError, and serving a parsed message
sends exactly one answer. Run with `--hypothesis-show-statistics` for counts.
"""

from __future__ import annotations

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brubeck import concurrency
from brubeck.errors import HTTPError
from brubeck.limits import Limits
from brubeck.mongrel2 import Mongrel2Connection, tnetstring, uploads, wire
from tests.hostile.app import build_hostile_app

EXAMPLES = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = Limits(body=4096, json_body=512, json_depth=8, multipart_parts=5, multipart_files=2,
               form_fields=20, header_bytes=2048, header_count=12, request_line=256)
APP = build_hostile_app(limits=SMALL)


def only_4xx(action):
    """Run `action`; a 4xx HTTPError (or 501, as over WSGI) is an answer, anything else a bug."""
    try:
        return action()
    except HTTPError as error:
        assert 400 <= error.status_code < 500 or error.status_code == 501, error
        return error


def only_value_error(action):
    """Run `action`; a ValueError is the parser's refusal, anything else is a bug."""
    try:
        return action()
    except ValueError as error:
        return error


# -- tnetstrings ------------------------------------------------------------------------------

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.binary(max_size=20)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.binary(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20,
)

# Pieces that look like tnetstrings, so random joins hit the parser's corners.
tnet_atoms = st.sampled_from([b"0:", b"1:", b"3:", b"10:", b"99:", b"999999999:", b"-1:", b":",
                              b"a", b"1#", b"true", b"!", b"~", b"]", b"}", b",", b"^", b"#",
                              b"1.5", b"nan", b"inf", b"-", b"--1", b"\xff", b"0:~", b"0:]",
                              b"0:}", b"2:{}", b"4:1:a,}"])


@EXAMPLES
@given(data=st.binary(max_size=200) | st.lists(tnet_atoms, max_size=30).map(b"".join))
def test_tnetstring_parser_only_raises_value_error(data):
    result = only_value_error(lambda: tnetstring.parse(data))
    if not isinstance(result, ValueError):
        _value, rest = result
        assert len(rest) < len(data)


@EXAMPLES
@given(value=values)
def test_tnetstring_round_trip(value):
    assert tnetstring.loads(tnetstring.dumps(value)) == value


@EXAMPLES
@given(value=values, cut=st.integers(0, 1000))
def test_truncated_tnetstring_is_a_value_error(value, cut):
    data = tnetstring.dumps(value)
    cut %= len(data)
    result = only_value_error(lambda: tnetstring.loads(data[:cut]))
    assert isinstance(result, ValueError)


def test_deep_tnetstring_is_a_value_error_not_a_recursion_error():
    data = b"0:]"
    for _ in range(5000):
        data = b"%d:%s]" % (len(data), data)
    assert isinstance(only_value_error(lambda: tnetstring.loads(data)), ValueError)


# -- message frames -----------------------------------------------------------------------------

header_names = st.sampled_from([
    "METHOD", "PATH", "URI", "QUERY", "VERSION", "URL_SCHEME", "REMOTE_ADDR", "PATTERN",
    "host", "content-length", "transfer-encoding", "content-type", "cookie",
    "x-mongrel2-upload-start", "x-mongrel2-upload-done", "x-forwarded-for", "X-Mixed", "",
]) | st.text(max_size=10)
header_values = (st.sampled_from(["GET", "POST", "HEAD", "JSON", "/", "/echo", "/brubeck",
                                  "HTTP/1.0", "HTTP/1.1", "3", "-1", "chunked", "a=%ff",
                                  "application/json", "multipart/form-data; boundary=b", "²",
                                  "/tmp/mongrel2.upload.AAAAAA", "/../x", "/echo%00"])
                 | st.text(max_size=30) | st.binary(max_size=30) | st.integers()
                 | st.lists(st.sampled_from(["3", "4", "chunked", "x"]), max_size=3))
header_dicts = st.dictionaries(header_names, header_values, max_size=12)
bodies = st.sampled_from([b"", b"abc", b'{"a": 1}', b"[" * 50, b'{"type":"disconnect"}',
                          b"--b\r\n\r\n--b--\r\n", b"a=1&b=%ff"]) | st.binary(max_size=60)


@st.composite
def frames(draw):
    """Mostly well-enveloped frames with fuzzed headers, sometimes mangled anywhere."""
    sender = draw(st.sampled_from([b"s", b"abc-123", b"\xff", b""]))
    conn_id = draw(st.sampled_from([b"1", b"42", b"x", b"", b"-1", b"9" * 30]))
    path = draw(st.sampled_from([b"/", b"/echo", b"/brubeck", b"@*", b"/\xff"]))
    headers = draw(header_dicts)
    head = (tnetstring.dumps(headers) if draw(st.booleans())
            else _netstring(draw(st.sampled_from([b'{"METHOD": "GET"}', b"{", b"[]", b"{}"])
                                 | st.binary(max_size=40))))
    frame = b" ".join([sender, conn_id, path, head + tnetstring.dumps(draw(bodies))])
    mangle = draw(st.sampled_from(["none", "cut", "append", "flip"]))
    at = draw(st.integers(0, max(0, len(frame) - 1)))
    if mangle == "cut":
        frame = frame[:at]
    elif mangle == "append":
        frame += draw(st.binary(min_size=1, max_size=10))
    elif mangle == "flip" and frame:
        frame = frame[:at] + bytes([frame[at] ^ 0xFF]) + frame[at + 1:]
    return frame


def _netstring(data: bytes) -> bytes:
    return b"%d:%s," % (len(data), data)


@EXAMPLES
@given(frame=frames() | st.binary(max_size=120))
def test_message_parser_only_raises_value_error(frame):
    result = only_value_error(lambda: wire.parse_message(frame))
    if isinstance(result, wire.Message):
        assert result.conn_id.isdigit() and isinstance(result.body, bytes)
        assert result.is_disconnect in (True, False)  # never raises either


@EXAMPLES
@given(frame=frames())
def test_parsed_message_becomes_a_request_or_a_4xx(frame):
    message = only_value_error(lambda: wire.parse_message(frame))
    if isinstance(message, ValueError):
        return
    request = only_4xx(lambda: wire.to_request(message, SMALL))
    if isinstance(request, HTTPError):
        return
    for part in ("arguments", "uploads", "json", "cookies"):
        only_4xx(lambda part=part: getattr(request, part))


# -- serving a message: exactly one answer, never an exception --------------------------------

class RecordingPub:
    def __init__(self):
        self.frames = []

    def send(self, frame):
        self.frames.append(frame)


def _connection():
    backend = concurrency.active()
    conn = Mongrel2Connection("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", handle_signals=False)
    conn._pub = RecordingPub()
    conn._app = APP
    conn._idle = backend.Event()
    return conn


@EXAMPLES
@given(frame=frames())
def test_serving_a_parsed_message_answers_once_and_never_raises(frame):
    try:
        message = wire.parse_message(frame)
    except ValueError:
        return
    if message.method == "JSON":
        return  # disconnects and JSON messages are never served
    conn = _connection()
    conn._running = 1
    failures = CrashLog()
    logging.getLogger("brubeck.mongrel2").addHandler(failures)
    try:
        conn._serve(message)  # in this green thread: an escaping exception fails the test
    finally:
        logging.getLogger("brubeck.mongrel2").removeHandler(failures)
    assert not failures.records, failures.records[0].getMessage()  # no bug in the connection
    statuses = [f.split(b", ", 1)[1].split(b" ", 2)[1] for f in conn._pub.frames
                if f.split(b", ", 1)[1]]
    started = (message.header(uploads.UPLOAD_START) is not None
               and message.header(uploads.UPLOAD_DONE) is None)
    assert len(statuses) == (0 if started and not statuses else 1), conn._pub.frames
    assert all(200 <= int(s) < 600 for s in statuses)
    assert conn._running == 0


class CrashLog(logging.Handler):
    """Collects `log.exception` records: the connection's own code failed."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        if record.exc_info:
            self.records.append(record)


@EXAMPLES
@given(frame=frames() | st.binary(max_size=120))
def test_dispatch_never_raises(frame):
    conn = _connection()
    spawned = []
    pool = type("P", (), {"spawn": lambda s, *a: spawned.append(a)})()
    conn._app = type("App", (), {"pool": pool, "backend": concurrency.active(),
                                 "limits": SMALL})()
    conn._dispatch(frame)
    assert len(spawned) + len(conn._pub.frames) <= 1  # served, answered 400 or dropped
    assert conn._running == len(spawned)  # the drain count matches what was started
