"""tnetstring: round trips, Mongrel2's real header dicts, and refusal of malformed input.

Every test runs over both parsers: tnetstring3's C one (the `fast` extra) with
the pure-Python rule behind it, and the pure-Python one alone. The C path is
then held to the Python rule on random values and on random damage to them.
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brubeck.mongrel2 import tnetstring

C_POP = tnetstring.c_pop


@pytest.fixture(autouse=True, params=["c", "python"])
def parser(request, monkeypatch):
    if request.param == "c" and C_POP is None:
        pytest.skip("tnetstring3 (the `fast` extra) is not installed")
    monkeypatch.setattr(tnetstring, "c_pop", C_POP if request.param == "c" else None)
    return request.param

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


# -- the C path against the Python rule (issue 17) ----------------------------------

headers = st.dictionaries(
    st.binary(max_size=12),
    st.binary(max_size=20) | st.lists(st.binary(max_size=8), max_size=3),
    max_size=8,
)


def outcome(parse, data):
    """What a parser makes of `data`: its value and rest (NaN made comparable), or the
    error class it refused with (only ValueError is allowed)."""
    try:
        value, rest = parse(data)
    except ValueError:
        return ValueError
    return repr(value) if isinstance(value, float) and math.isnan(value) else value, rest


@st.composite
def damaged(draw, source):
    """An encoding with a few random bytes changed, inserted, deleted, or cut short."""
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        byte = draw(st.sampled_from(b"0123456789:,#^!~}]-+. \x00ae"))
        if action == "set" and where < len(data):
            data[where] = byte
        elif action == "insert":
            data.insert(where, byte)
        elif action == "delete" and where < len(data):
            del data[where]
        elif action == "cut":
            del data[where:]
    return bytes(data)


def test_perf_c_parser_is_tnetstring3_when_installed(parser):
    if parser == "c":
        assert tnetstring.c_pop is not None
        payload = b"6:METHOD,3:GET,3:x-a,8:1:1,1:2,]"
        raw = b"%d:%s}0:," % (len(payload), payload)
        calls = []
        real = tnetstring.c_pop
        tnetstring.c_pop = lambda data: calls.append(data) or real(data)
        assert tnetstring.parse(raw)[0] == {b"METHOD": b"GET", b"x-a": [b"1", b"2"]}
        assert calls == [raw]  # Mongrel2's headers are read in C


#: A comparison of the C path with the Python one runs on the C parametrisation only
#: (generated for it alone, not skipped 29 times on the other).
c_only = pytest.mark.parametrize("parser", ["c"], indirect=True)


@c_only
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(values.map(tnetstring.dumps), headers.map(tnetstring.dumps)))
def test_perf_c_path_agrees_with_python_on_every_value(parser, data):
    assert outcome(tnetstring.parse, data) == outcome(tnetstring.parse_python, data)


@c_only
@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=damaged(st.one_of(values.map(tnetstring.dumps), headers.map(tnetstring.dumps),
                              st.binary(max_size=30))))
def test_perf_c_path_agrees_with_python_on_damaged_input(parser, data):
    assert outcome(tnetstring.parse, data) == outcome(tnetstring.parse_python, data)
    assert outcome(lambda d: (tnetstring.loads(d), b""), data) == \
        outcome(lambda d: _python_loads(d), data)


def _python_loads(data):
    value, rest = tnetstring.parse_python(data)
    if rest:
        raise ValueError("trailing bytes after tnetstring")
    return value, b""


def nested_lists(depth):
    """`depth` empty lists each inside the next, built in linear time (prefixes, then
    the innermost, then the closing tags)."""
    prefixes, size = [], 3  # b"0:]"
    for _ in range(depth):
        prefix = b"%d:" % size
        prefixes.append(prefix)
        size += len(prefix) + 1
    return b"".join(reversed(prefixes)) + b"0:]" + b"]" * depth


@pytest.mark.parametrize("hostile", [
    b"0:]",  # nested 100,000 deep below
    b"0:,",  # a megabyte-long flat list below
])
def test_perf_hostile_megabyte_is_refused_or_read_linearly(hostile):
    if hostile == b"0:]":
        value = nested_lists(100_000)
        with pytest.raises(ValueError, match="deeply"):
            tnetstring.loads(value)
    else:
        payload = hostile * 350_000
        value = b"%d:%s]" % (len(payload), payload)
        assert tnetstring.loads(value) == [b""] * 350_000


#: Where tnetstring3's C parser and the Python rule differ (found by search): number
#: syntax (C takes "+1" and "0x1", Python float() takes spaces and "_"), leading zeros
#: in a length (C refuses), nesting past MAX_DEPTH (C goes deeper), bad digits (C's
#: OverflowError). Alone, in a list, as a header value: the C path must give Python's.
DIVERGENT = [b"2:+1#", b"2: 1^", b"3:1_0^", b"3:0x1^", b"2:\xd9\xa1#", b"4:1.5 ^", b"00:,",
             b"01:a,"]


@c_only
@pytest.mark.parametrize("inner", [*DIVERGENT, nested_lists(40)])
@pytest.mark.parametrize("shape", ["alone", "list", "dict"])
def test_perf_c_path_agrees_with_python_where_the_parsers_differ(parser, inner, shape):
    data = {"alone": inner, "list": b"%d:%s]" % (len(inner), inner),
            "dict": b"%d:1:k,%s}" % (len(inner) + 4, inner)}[shape]
    assert outcome(tnetstring.parse, data) == outcome(tnetstring.parse_python, data)
