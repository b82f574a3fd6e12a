"""Item 11: CORS app-wide and per handler; preflights answered; never `*` with
credentials. Real HTTP on both transports, and headless Chromium fetching from one
origin (a page served on one port) to another (the API on a second port)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from brubeck import Brubeck, ConfigError
from brubeck.middleware.cors import CORS
from tests.examples.conftest import browser  # noqa: F401  (the headless Chromium fixture)
from tests.middleware.served import TRANSPORTS, serve
from tests.support.processes import ROOT, free_port, python_env

API_CLIENT = "http://api-client.test"
APP_ORIGIN = "http://app.test"


@pytest.fixture(scope="module", params=TRANSPORTS)
def served(request, tmp_path_factory):
    with serve(tmp_path_factory.mktemp(request.param), request.param,
               DX_API_ORIGIN=API_CLIENT, BRUBECK_CORS_ORIGINS=APP_ORIGIN) as server:
        yield server


def preflight(served, path, origin, method, headers=""):
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return served.request("OPTIONS", path, sent)


def test_cors_11_preflight_allowed_by_the_handlers_own_policy(served):
    reply = preflight(served, "/api", API_CLIENT, "PUT", "x-token")
    assert reply.status == 204
    h = reply.headers
    assert h["access-control-allow-origin"] == API_CLIENT
    assert h["access-control-allow-credentials"] == "true"
    assert "PUT" in h["access-control-allow-methods"]
    assert h["access-control-allow-headers"] == "x-token"
    assert int(h["access-control-max-age"]) > 0
    assert "Origin" in h["vary"]


@pytest.mark.parametrize("origin, method, headers", [
    (APP_ORIGIN, "PUT", ""),            # the app-wide origin is not this handler's
    (API_CLIENT, "DELETE", ""),         # method not allowed
    (API_CLIENT, "PUT", "x-token, x-evil"),  # a header not allowed
])
def test_cors_11_preflight_refused_without_cors_headers(served, origin, method, headers):
    reply = preflight(served, "/api", origin, method, headers)
    assert reply.status == 403
    assert "access-control-allow-origin" not in reply.headers


def test_cors_11_actual_requests_marked_for_allowed_origins_only(served):
    ok = served.get("/api", Origin=API_CLIENT)
    assert ok.headers["access-control-allow-origin"] == API_CLIENT
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert ok.headers["access-control-expose-headers"] == "X-Request-Id"
    other = served.get("/api", Origin="http://evil.test")
    assert other.status == 200 and "access-control-allow-origin" not in other.headers
    assert "Origin" in other.headers["vary"]


def test_cors_11_app_wide_policy_from_the_config(served):
    reply = served.get("/hello", Origin=APP_ORIGIN)
    assert reply.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-credentials" not in reply.headers
    assert "access-control-allow-origin" not in served.get("/hello", Origin=API_CLIENT).headers
    pre = preflight(served, "/fun", APP_ORIGIN, "POST")
    assert (pre.status, pre.headers["access-control-allow-origin"]) == (204, APP_ORIGIN)
    plain = served.request("OPTIONS", "/hello")  # no Origin: the route's own OPTIONS
    assert plain.status == 204 and "access-control-allow-origin" not in plain.headers


def test_cors_11_public_policy_answers_star(tmp_path):
    with serve(tmp_path, "wsgi", BRUBECK_CORS_ORIGINS="*") as served:
        reply = served.get("/hello", Origin="http://anyone.test")
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in reply.headers


def test_cors_11_never_star_with_credentials():
    with pytest.raises(ConfigError, match="credentials"):
        CORS(origins="*", credentials=True)
    with pytest.raises(ConfigError, match="credentials"):
        Brubeck(cors_origins=["*"], cors_credentials=True)
    started = subprocess.run(
        [sys.executable, "-m", "brubeck", "serve", "tests/middleware/app.py:app", "--port",
         str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=python_env(BRUBECK_CORS_ORIGINS="*", BRUBECK_CORS_CREDENTIALS="1"))
    assert started.returncode != 0
    assert "credentials" in started.stderr


PAGE = """<!doctype html><title>cors</title><pre id="out">waiting</pre><script>
const API = "%(api)s";
async function run() {
  const out = {};
  try {
    const r = await fetch(API + "/api", {method: "PUT", headers: {"X-Token": "t-1"},
                                         credentials: "include"});
    out.put = await r.json();
    out.request_id = r.headers.get("X-Request-Id");
  } catch (e) { out.put = "failed: " + e; }
  try {
    const r = await fetch(API + "/hello");
    out.hello = await r.text();
  } catch (e) { out.hello = "failed"; }
  document.getElementById("out").textContent = JSON.stringify(out);
}
run();
</script>
"""


def test_cors_11_browser_fetch_from_another_origin(tmp_path, browser):  # noqa: F811
    page_port, api_port = free_port(), free_port()
    page_origin = f"http://127.0.0.1:{page_port}"
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "page.html").write_text(PAGE % {"api": f"http://127.0.0.1:{api_port}"})
    with serve(tmp_path / "api", "wsgi", port=api_port, args=("--access-log",),
               DX_API_ORIGIN=page_origin, BRUBECK_CORS_ORIGINS="http://elsewhere.test") as api, \
            serve(tmp_path / "page", "wsgi", port=page_port, BRUBECK_STATIC_PATH=str(pages)):
        driver = browser()
        driver.get(f"{api.url}/setcookie")  # the API's cookie, sent with credentials
        driver.get(f"{page_origin}/static/page.html")
        WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.ID, "out").text != "waiting")
        out = json.loads(driver.find_element(By.ID, "out").text)
        log = api.wait_for_output('"PUT /api" 200')
    assert out["put"]["token"] == "t-1"     # preflight passed, custom header allowed
    assert out["put"]["who"] == "alice"     # credentials: the API's cookie went along
    assert len(out["request_id"]) == 32     # an exposed response header
    assert out["hello"] == "failed"         # app-wide policy does not list this origin
    assert '"OPTIONS /api" 204' in log      # the browser's preflight, answered
