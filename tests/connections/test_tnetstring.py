"""tnetstring: round trips, Mongrel2's real header dicts, and refusal of malformed input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brubeck.mongrel2 import tnetstring

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.binary()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.binary(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20,
)


@given(values)
def test_round_trip(value):
    assert tnetstring.loads(tnetstring.dumps(value)) == value


def test_known_encodings():
    assert tnetstring.dumps(b"hi") == b"2:hi,"
    assert tnetstring.dumps("é") == b"2:\xc3\xa9,"
    assert tnetstring.dumps(12) == b"2:12#"
    assert tnetstring.dumps(True) == b"4:true!"
    assert tnetstring.dumps(None) == b"0:~"
    assert tnetstring.dumps([1, b"a"]) == b"8:1:1#1:a,]"
    assert tnetstring.dumps({"k": b"v"}) == b"8:1:k,1:v,}"


def test_mongrel2_headers_with_repeated_header_and_raw_bytes():
    payload = b"6:METHOD,3:GET,3:x-a,8:1:1,1:2,]3:x-u,3:\xc3\xa9\xff,"
    raw = b"%d:%s}0:," % (len(payload), payload)
    headers, rest = tnetstring.parse(raw)
    assert headers == {b"METHOD": b"GET", b"x-a": [b"1", b"2"], b"x-u": b"\xc3\xa9\xff"}
    assert tnetstring.loads(rest) == b""


@pytest.mark.parametrize("bad", [
    b"", b"5:abc,", b"3:abc", b"x:abc,", b"-1:,", b"3:abc?", b"2:ab,extra",
    b"4:1:a,}", b"3:abc#", b"5:maybe!", b"1:x~", b"4:1:1#]2:", b"99999999999:a,",
    b"6:1:1#1:a,}",
])
def test_malformed_is_value_error(bad):
    with pytest.raises(ValueError):
        tnetstring.loads(bad)


def test_deep_nesting_is_refused():
    value = b"0:]"
    for _ in range(100):
        value = b"%d:%s]" % (len(value), value)
    with pytest.raises(ValueError, match="deeply"):
        tnetstring.loads(value)


def test_unencodable_type():
    with pytest.raises(TypeError):
        tnetstring.dumps(object())
