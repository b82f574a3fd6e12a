"""A multipart field in a charset we cannot decode is a clear 400 (security issue #13, item 10).

It used to escape the request parser as a LookupError: a 500, over every front.
"""

import json

import pytest

from tests.hostile import rawhttp
from tests.hostile.conftest import assert_still_serving


def field(charset: bytes, value: bytes = b"x") -> bytes:
    return (b'--b\r\nContent-Disposition: form-data; name="a"\r\n'
            b"Content-Type: text/plain; charset=" + charset + b"\r\n\r\n" + value
            + b"\r\n--b--\r\n")


@pytest.mark.parametrize("charset", [b"bogus", b"rot13", b"punycode", b'"x\\"y"'])
def test_security_10_multipart_bogus_charset_is_400_live(port, charset):
    request = rawhttp.post("/echo", field(charset), "multipart/form-data; boundary=b")
    reply = rawhttp.exchange(port, request)
    assert reply.status == 400, reply.body[:200]
    assert b"charset" in reply.body and b"Traceback" not in reply.body
    assert_still_serving(port)


def test_security_10_multipart_declared_charset_is_honoured_live(port):
    request = rawhttp.post("/echo", field(b"latin-1", b"caf\xe9"),
                           "multipart/form-data; boundary=b")
    reply = rawhttp.exchange(port, request)
    assert reply.status == 200
    assert json.loads(reply.body)["arguments"] == {"a": ["café"]}
