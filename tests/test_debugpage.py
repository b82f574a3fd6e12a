"""Item 13: with `debug` on, a crash is answered with the request (headers, credentials
masked) and each frame's source and locals, all escaped; with it off nothing of that
leaks. A real `brubeck serve` process over WSGI and behind Mongrel2."""

from __future__ import annotations

import pytest

from brubeck.debugpage import mask_header, render
from brubeck.request import Request
from tests.middleware.served import TRANSPORTS, serve

SENT = {"Cookie": "session=abc123secret; theme=dark",
        "Authorization": "Bearer sekrit-bearer-token",
        "X-Api-Key": "key-in-a-header", "X-Note": "<i>visible</i>"}
NEVER_SHOWN = ("abc123secret", "sekrit-bearer-token", "key-in-a-header", "tok-SECRET-1",
               "<script>alert(1)</script>")


@pytest.fixture(scope="module", params=TRANSPORTS)
def debug_on(request, tmp_path_factory):
    with serve(tmp_path_factory.mktemp(request.param), request.param,
               BRUBECK_DEBUG="1") as server:
        yield server


@pytest.fixture(scope="module", params=TRANSPORTS)
def debug_off(request, tmp_path_factory):
    with serve(tmp_path_factory.mktemp(request.param), request.param) as server:
        yield server


def test_debugpage_13_shows_request_frames_and_locals_escaped(debug_on):
    reply = debug_on.request("GET", "/crash?q=%3Cx%3E", SENT)
    page = reply.text
    assert reply.status == 500 and reply.headers["content-type"].startswith("text/html")
    assert "RuntimeError: boom &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<code>GET</code>" in page and "<code>/crash</code>" in page
    assert "q=%3Cx%3E" in page
    assert "session=********; theme=********" in page and "Bearer ********" in page
    assert "&lt;i&gt;visible&lt;/i&gt;" in page  # an ordinary header, escaped
    assert "raise RuntimeError(&quot;boom &lt;script&gt;" in page  # the failing line
    assert "tests/middleware/app.py" in page and "in <code>get</code>" in page
    assert "&#x27;&lt;b&gt;local &amp; visible&lt;/b&gt;&#x27;" in page  # a local, escaped
    assert "<code>api_token</code>" in page  # named, its value masked
    for secret in NEVER_SHOWN:
        assert secret not in page


def test_debugpage_13_json_handler_gets_the_traceback_in_its_payload(debug_on):
    reply = debug_on.get("/jsoncrash")
    assert reply.status == 500 and "json boom" in reply.json()["traceback"]


@pytest.mark.parametrize("path", ["/crash", "/jsoncrash", "/hookcrash"])
def test_debugpage_13_nothing_leaks_with_debug_off(debug_off, path):
    reply = debug_off.request("GET", path + "?q=%3Cx%3E", SENT)
    assert reply.status == 500
    for leak in (*NEVER_SHOWN, "boom", "Traceback", "RuntimeError", "api_token",
                 "visible", "app.py", "session", "json boom", "a hook failed"):
        assert leak not in reply.text
    assert debug_off.get("/hello").status == 200


def test_debugpage_13_masking_and_broken_reprs():
    assert mask_header("Cookie", "a=1; b=2") == "a=********; b=********"
    assert mask_header("Proxy-Authorization", "Basic dXNlcjpwdw==") == "Basic ********"
    assert mask_header("X-Session-Token", "t") == "********"
    assert mask_header("Accept", "text/html") == "text/html"

    class Broken:
        def __repr__(self):
            raise ValueError("no repr")

    def crash():
        broken = Broken()  # noqa: F841
        password = "pw-" + "1"  # noqa: F841
        huge = "x" * 100_000  # noqa: F841
        raise KeyError("<k>")

    try:
        try:
            crash()
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as error:
        page = render(error, Request("POST", "/p", headers={"Cookie": "s=v"}))
    assert "Broken instance at" in page  # its __repr__ raised
    assert "pw-1" not in page and "x" * 300 not in page
    assert "KeyError: &#x27;&lt;k&gt;&#x27;" in page and "RuntimeError: outer" in page
    assert page.index("KeyError") < page.index("RuntimeError: outer")  # cause first
