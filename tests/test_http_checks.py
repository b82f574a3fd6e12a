"""The strict HTTP/1.1 framing checks both WSGI servers share, tested without a socket.

The chunked decoder is checked against an independent whole-message oracle
(RFC 9112 section 7.1 written as one regular expression), on valid encodings
split at random points and on near-miss mutations of them.
"""

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brubeck.limits import Limits
from brubeck.request import parse_content_length
from brubeck.servers.http import (
    MAX_CHUNK_LINE,
    ChunkedBody,
    ChunkedDecoder,
    HeadFields,
    Refusal,
    check_head,
    check_request_line,
    head_lines,
)

SMALL = Limits(body=256, header_bytes=200, header_count=4)
EXAMPLES = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def decode(data: bytes, limits: Limits = SMALL, splits: tuple[int, ...] = ()) -> tuple[bytes, int]:
    """Feed `data` in pieces cut at `splits`; (body, bytes used) once the body ends."""
    decoder = ChunkedDecoder(limits)
    body, used, start = bytearray(), 0, 0
    for cut in [*sorted(set(splits)), len(data)]:
        piece = data[start:cut]
        start = cut
        while piece and not decoder.done:
            out, n = decoder.feed(piece)
            body += out
            used += n
            piece = piece[n:]
            assert n or out or decoder.done, "no progress on a non-empty piece"
        if decoder.done:
            break
    if not decoder.done:
        raise Refusal(400, "incomplete")
    return bytes(body), used


# -- the oracle: RFC 9112 section 7.1 as one expression, plus our bounds -----------------------

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_VALUE = rb"(?:" + _TOKEN + rb"|" + _QUOTED + rb")"
_EXT = rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*" + _VALUE + rb")?)*"
_ORACLE_CHUNK = re.compile(rb"([0-9A-Fa-f]{1,16})(" + _EXT + rb")\r\n")
_ORACLE_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n\0]*\r\n")


def oracle(data: bytes, limits: Limits = SMALL) -> tuple[bytes, int] | int:
    """(body, bytes used) for a valid chunked body at the front of `data`, else a status."""
    pos, body = 0, bytearray()
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            return 400
        line = data[pos:end + 1]
        if len(line) > MAX_CHUNK_LINE:
            return 400
        match = _ORACLE_CHUNK.fullmatch(line)
        if not match:
            return 400
        size = int(match[1], 16)
        if len(body) + size > limits.body:
            return 413
        pos = end + 1
        if size == 0:
            break
        if len(data) < pos + size + 2 or data[pos + size:pos + size + 2] != b"\r\n":
            return 400
        body += data[pos:pos + size]
        pos += size + 2
    budget, count = limits.header_bytes, 0
    while True:
        end = data.find(b"\n", pos)
        line = data[pos:end + 1] if end >= 0 else data[pos:]
        if line == b"\r\n":
            return bytes(body), end + 1
        budget -= len(line)
        count += 1
        if budget < 0 or count > limits.header_count:
            return 431
        if end < 0 or not _ORACLE_FIELD.fullmatch(line):
            return 400
        pos = end + 1


def outcome(data: bytes, splits: tuple[int, ...] = ()) -> tuple[bytes, int] | int:
    try:
        return decode(data, SMALL, splits)
    except Refusal as refusal:
        return refusal.status


# -- the examples --------------------------------------------------------------------

MALFORMED = {
    "0x prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "plus sign": b"+5\r\nhello\r\n0\r\n\r\n",
    "underscore": b"0_5\r\nhello\r\n0\r\n\r\n",
    "spaces around the size": b" 5 \r\nhello\r\n0\r\n\r\n",
    "bare LF after the size": b"5\nhello\r\n0\r\n\r\n",
    "junk after chunk data": b"5\r\nhelloXX\r\n0\r\n\r\n",
    "bare LF after chunk data": b"5\r\nhello\n0\r\n\r\n",
    "bare LF in an extension": b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    "bare CR in an extension": b"5;a\rb\r\nhello\r\n0\r\n\r\n",
    "8 KiB extension": b"5;" + b"a" * 8192 + b"\r\nhello\r\n0\r\n\r\n",
    "empty size line": b"\r\nhello\r\n0\r\n\r\n",
    "17 hex digits": b"0" * 16 + b"5\r\nhello\r\n0\r\n\r\n",
    "non-ASCII digit": "\u0665\r\nhello\r\n0\r\n\r\n".encode(),
    "extension without a name": b"5;\r\nhello\r\n0\r\n\r\n",
    "bare LF ending the trailers": b"5\r\nhello\r\n0\r\n\n",
    "trailer without a colon": b"5\r\nhello\r\n0\r\nX-A\r\n\r\n",
    "folded trailer": b"5\r\nhello\r\n0\r\nX-A: 1\r\n 2\r\n\r\n",
    "NUL in a trailer": b"5\r\nhello\r\n0\r\nX-A: \0\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_security_3_malformed_chunked_framing_is_a_400(data):
    with pytest.raises(Refusal) as refused:
        decode(data)
    assert refused.value.status == 400
    assert oracle(data) == 400


VALID = {
    "plain": (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "upper and lower hex, leading zeros": (b"0A\r\n0123456789\r\n00b\r\n" + b"x" * 11
                                           + b"\r\n000\r\n\r\n", b"0123456789" + b"x" * 11),
    "extensions": (b'5 ; a=1 ;b ; c="q\\"\t"\r\nhello\r\n0;last\r\n\r\n', b"hello"),
    "trailers": (b"5\r\nhello\r\n0\r\nX-A: 1\r\nX-B:\r\n\r\n", b"hello"),
}


@pytest.mark.parametrize(("data", "body"), VALID.values(), ids=VALID.keys())
def test_security_3_valid_chunked_bodies_decode_and_stop_at_their_end(data, body):
    after = b"GET /next HTTP/1.1\r\n\r\n"
    assert decode(data + after) == (body, len(data))


def test_security_3_chunked_body_over_the_limit_is_a_413_before_its_data():
    decoder = ChunkedDecoder(SMALL)
    with pytest.raises(Refusal) as refused:
        decoder.feed(b"%x\r\n" % (SMALL.body + 1))
    assert refused.value.status == 413
    decoder = ChunkedDecoder(SMALL)
    decoder.feed(b"%x\r\n" % SMALL.body + b"x" * SMALL.body + b"\r\n")
    with pytest.raises(Refusal) as refused:
        decoder.feed(b"1\r\n")
    assert refused.value.status == 413


def test_security_3_trailer_section_is_bounded():
    many = b"".join(b"X-%d: v\r\n" % i for i in range(SMALL.header_count + 1))
    with pytest.raises(Refusal) as refused:
        decode(b"0\r\n" + many + b"\r\n")
    assert refused.value.status == 431
    with pytest.raises(Refusal) as refused:
        decode(b"0\r\nX-Big: " + b"b" * SMALL.header_bytes + b"\r\n\r\n")
    assert refused.value.status == 431


def test_security_3_an_endless_line_is_refused_without_waiting_for_its_end():
    decoder = ChunkedDecoder(SMALL)
    with pytest.raises(Refusal):
        for _ in range(MAX_CHUNK_LINE):
            decoder.feed(b"5;" if not _ else b"a")


def test_security_3_body_stream_reads_exactly_the_body_from_a_buffered_file():
    data = b"3\r\nab\n\r\n4\r\ncdef\r\n0\r\n\r\nGET /next HTTP/1.1\r\n"
    rfile = io.BufferedReader(io.BytesIO(data), buffer_size=5)
    body = ChunkedBody(rfile, SMALL)
    assert body.read(2) == b"ab"
    assert body.read(-1, line=True) == b"\n"
    assert body.read() == b"cdef"
    assert body.done and body.read() == b""
    assert rfile.read() == b"GET /next HTTP/1.1\r\n"


def test_security_3_body_stream_cut_short_is_a_400():
    rfile = io.BufferedReader(io.BytesIO(b"5\r\nhel"))
    with pytest.raises(Refusal) as refused:
        ChunkedBody(rfile, SMALL).read()
    assert refused.value.status == 400


# -- properties -------------------------------------------------------------------------------

ext_name = st.sampled_from([b"a", b"name", b"x-y", b"!#$"])
ext_value = st.sampled_from([b"1", b"tok", b'"q"', b'"a\\"b"', b'""'])
extension = st.tuples(st.sampled_from([b"", b" ", b"\t"]), ext_name,
                      st.none() | ext_value).map(
    lambda t: t[0] + b";" + t[1] + (b"=" + t[2] if t[2] is not None else b""))
chunk = st.tuples(st.binary(min_size=1, max_size=40), st.sampled_from(["%x", "%X", "%03x"]),
                  st.lists(extension, max_size=2))
trailer = st.sampled_from([b"X-A: 1\r\n", b"Checksum: abc\r\n", b"X-Empty:\r\n"])


@st.composite
def chunked_bodies(draw):
    chunks = draw(st.lists(chunk, max_size=5))
    out, body = bytearray(), bytearray()
    for data, size_format, extensions in chunks:
        out += (size_format % len(data)).encode() + b"".join(extensions) + b"\r\n"
        out += data + b"\r\n"
        body += data
    out += b"0" + b"".join(draw(st.lists(extension, max_size=1))) + b"\r\n"
    out += b"".join(draw(st.lists(trailer, max_size=2))) + b"\r\n"
    return bytes(out), bytes(body)


NEAR_MISSES = [b"\n", b"\r", b" ", b"\t", b";", b"=", b"0x", b"+", b"-", b"_", b"\0", b"G",
               b"\r\n", b"\xff", b'"', b"\\", b":", b"5", b"f"]


@EXAMPLES
@given(encoded=chunked_bodies(), splits=st.lists(st.integers(0, 400), max_size=6))
def test_security_3_valid_encodings_decode_alike_however_split(encoded, splits):
    data, body = encoded
    rest = b"POST / HTTP/1.1\r\n"
    assert outcome(data + rest, tuple(splits)) == (body, len(data))


@EXAMPLES
@given(encoded=chunked_bodies(), at=st.integers(0, 400), cut=st.integers(0, 3),
       insert=st.sampled_from(NEAR_MISSES), splits=st.lists(st.integers(0, 400), max_size=4))
def test_security_3_near_misses_agree_with_the_rfc_grammar(encoded, at, cut, insert, splits):
    """Any mutation is decoded exactly as RFC 9112's grammar reads it, or refused with
    the status the oracle gives; never read past the body's end, never crash."""
    data, _ = encoded
    at = at % (len(data) + 1)
    mutated = data[:at] + insert + data[at + cut:]
    assert outcome(mutated, tuple(splits)) == oracle(mutated), mutated


@EXAMPLES
@given(data=st.binary(max_size=200), splits=st.lists(st.integers(0, 200), max_size=4))
def test_security_3_arbitrary_bytes_decode_or_refuse(data, splits):
    assert outcome(data, tuple(splits)) == oracle(data)


# -- numbers from the client (item 11) --------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("0007", 7), ("9" * 19, int("9" * 19)),
    ("", None), ("1" * 20, None), ("1" * 5000, None), ("+3", None), ("-1", None), ("3 ", None),
    ("\u0663", None), ("\u00b2", None), ("1_000", None), ("0x10", None), (" 3", None),
])
def test_security_11_content_length_is_bounded_ascii_digits(text, value):
    assert parse_content_length(text) == value


def test_security_11_a_5000_digit_content_length_is_a_400():
    head = HeadFields([("Content-Length", "1" * 5000)])
    with pytest.raises(Refusal) as refused:
        check_head(head, Limits())
    assert refused.value.status == 400


# -- request line and head framing (item 12) --------------------------------------------------

@pytest.mark.parametrize(("line", "status"), [
    (b"GET\x0b/x HTTP/1.1\r\n", 400),
    (b"GET\x0c/x HTTP/1.1\r\n", 400),
    (b"GET\x1c/x HTTP/1.1\r\n", 400),
    (b"GET\t/x HTTP/1.1\r\n", 400),
    (b"GET  /x HTTP/1.1\r\n", 400),
    (b"GET /x  HTTP/1.1\r\n", 400),
    (b" GET /x HTTP/1.1\r\n", 400),
    (b"GET /x HTTP/1.1 \r\n", 400),
    (b"GET /x HTTP/1.1\n", 400),
    (b"GET /x HTTP/1.1\r\r\n", 400),
    (b"GET /x\r\n", 400),
    (b"GET /x HTTP/\xd9\xa1.1\r\n", 400),
    (b"G\xc9T /x HTTP/1.1\r\n", 400),
    (b"GET /x HTTP/1.1x\r\n", 400),
    (b"GET /x HTTP/2.0\r\n", 505),
    (b"GET /x HTTP/0.9\r\n", 505),
    (b"GET /x HTTP/1.2\r\n", 505),
])
def test_security_12_lenient_request_lines_are_refused(line, status):
    with pytest.raises(Refusal) as refused:
        check_request_line(line)
    assert refused.value.status == status


@pytest.mark.parametrize("line", [b"GET /x HTTP/1.1\r\n", b"POST /a?b=c HTTP/1.0\r\n",
                                  b"M-SEARCH * HTTP/1.1\r\n", b"GET /\xff HTTP/1.1\r\n",
                                  b"OPTIONS http://h/x?y HTTP/1.1\r\n"])
def test_security_12_strict_request_lines_pass(line):
    check_request_line(line)


@pytest.mark.parametrize("raw", [b"Host: x\n\r\n", b"Host: x\r\n\n", b"Host: x\nX-A: 1\r\n\r\n"])
def test_security_12_bare_lf_in_a_head_is_a_400(raw):
    with pytest.raises(Refusal) as refused:
        list(head_lines(io.BufferedReader(io.BytesIO(raw)), Limits()))
    assert refused.value.status == 400


def test_security_12_http_1_0_with_transfer_encoding_is_a_400():
    head = HeadFields([("Transfer-Encoding", "chunked")])
    check_head(head, Limits(), version="HTTP/1.1")
    with pytest.raises(Refusal) as refused:
        check_head(head, Limits(), version="HTTP/1.0")
    assert refused.value.status == 400


def test_security_16_the_servers_own_refusals_carry_nosniff():
    head = Refusal(400, "Bad chunk").response().split(b"\r\n\r\n")[0]
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in head
