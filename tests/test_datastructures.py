"""Headers and its WSGI view: the lazy view answers exactly as the built map would."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brubeck.datastructures import EnvironHeaders, Headers, environ_pairs

ENVIRON = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
    "HTTP_HOST": "example.com", "HTTP_X_REQUEST_ID": "abc-123", "HTTP_X_EMPTY": "",
    "HTTP_ACCEPT": "text/html,application/json", "CONTENT_TYPE": "", "CONTENT_LENGTH": "12",
    "HTTP_HTTP_ODD": "yes",
}
NAMES = ["Host", "host", "X-Request-Id", "x-request-id", "X-Empty", "Accept", "Content-Type",
         "content-length", "Content-Length", "Missing", "x_request_id", "Http-Odd", "HTTP-ODD",
         "request-method", "path-info", "", "-", "_"]


@pytest.mark.parametrize("name", NAMES)
def test_get_before_the_map_is_built_answers_as_the_map(name):
    lazy, built = EnvironHeaders(ENVIRON), Headers(environ_pairs(ENVIRON))
    assert lazy.get(name) == built.get(name)
    assert lazy.get(name, "default") == built.get(name, "default")
    assert lazy[name] == built[name] if name.lower() in built else name.lower() not in lazy


def test_one_header_is_read_without_building_the_map(monkeypatch):
    lazy = EnvironHeaders(ENVIRON)
    monkeypatch.setattr("brubeck.datastructures.environ_pairs", None)  # a build would fail
    assert lazy.get("X-Request-Id") == "abc-123"
    assert lazy.get("x-missing", "-") == "-"


def test_get_after_the_map_is_built_reads_the_map():
    lazy = EnvironHeaders(ENVIRON)
    assert len(lazy) == len(Headers(environ_pairs(ENVIRON)))  # builds it
    assert lazy.get("X-Request-Id") == "abc-123"
    assert lazy.get("content-type", "none") == "none"  # an empty CONTENT_TYPE is no header


@given(st.dictionaries(st.sampled_from(["HTTP_A", "HTTP_A_B", "CONTENT_TYPE", "CONTENT_LENGTH",
                                        "HTTP_CONTENT_TYPE", "A_B", "HTTP_"]),
                       st.sampled_from(["", "v", "w,x"])),
       st.sampled_from(["a", "A", "a-b", "a_b", "content-type", "Content-Length", "", "b"]))
def test_lazy_get_agrees_with_the_map_for_any_environ(environ, name):
    assert EnvironHeaders(environ).get(name) == Headers(environ_pairs(environ)).get(name)
