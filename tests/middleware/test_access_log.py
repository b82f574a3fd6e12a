"""Item 9: `--access-log` (and the `access_log` key), one line per request with method,
path, status, bytes, duration in ms and the request id, as text or JSON lines; and
`--log-level`. Over WSGI and from a Mongrel2 worker, as real processes."""

from __future__ import annotations

import json
import re

import pytest

from tests.middleware.served import TRANSPORTS, serve

TEXT_LINE = re.compile(r'127\.0\.0\.1 "GET /hello" 200 5B (\d+\.\d)ms id=line-(\w+)')


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_access_log_9_text_lines_on_every_transport(tmp_path, transport):
    with serve(tmp_path, transport, args=("--access-log",)) as served:
        for n in range(3):
            assert served.get("/hello", X_Request_Id=f"line-{n}").status == 200
        served.get("/nowhere?token=secret-in-query", X_Request_Id="line-404")
        output = served.wait_for_output("id=line-404")
    found = TEXT_LINE.findall(output)
    assert [n for _, n in found] == ["0", "1", "2"]
    assert all(float(ms) < 5000 for ms, _ in found)
    assert '"GET /nowhere" 404' in output and "secret-in-query" not in output


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_access_log_9_json_lines_for_collectors(tmp_path, transport):
    with serve(tmp_path, transport, args=("--access-log", "json")) as served:
        served.request("POST", "/payload", {"X-Request-Id": "json-1"})
        served.get("/payload", X_Request_Id="json-2")
        output = served.wait_for_output('"json-2"')
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    by_id = {line["request_id"]: line for line in lines}
    posted = by_id["json-1"]
    assert (posted["method"], posted["path"], posted["status"]) == ("POST", "/payload", 201)
    assert posted["bytes"] > 0 and isinstance(posted["duration_ms"], float)
    assert by_id["json-2"]["status"] == 200
    assert set(posted) == {"remote", "method", "path", "status", "bytes", "duration_ms",
                           "request_id"}


def test_access_log_9_escapes_what_the_client_sent(tmp_path):
    with serve(tmp_path, "wsgi", BRUBECK_ACCESS_LOG="text") as served:
        served.get("/%0Aforged%20line%1b[31m")
        output = served.wait_for_output("forged")
    assert "\\x0aforged line\\x1b[31m" in output
    assert "\nforged" not in output


def test_access_log_9_off_by_default_and_log_level_flag(tmp_path):
    with serve(tmp_path, "wsgi", args=("--log-level", "debug"),
               BRUBECK_LOGIN_URL="/env") as served:
        served.get("/hello")
        served.get("/fun")
        output = served.wait_for_output("settings from the environment")
    assert '"GET /hello"' not in output  # no access log unless asked
    assert "login_url='/env'" in output  # DEBUG lines shown with --log-level debug
