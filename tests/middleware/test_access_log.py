"""Item 9: `--access-log` (and the `access_log` key), one line per request with method,
path, status, bytes, duration in ms and the request id, as text or JSON lines; and
`--log-level`. Over WSGI and from a Mongrel2 worker, as real processes, one or two
workers under the supervisor (`--workers 2`)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest

from brubeck import concurrency
from tests.middleware.served import APP, TRANSPORTS, Served, serve
from tests.support.processes import free_port
from tests.workers.support import supervised

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


def two_workers(tmp_path, transport, *more):
    """`brubeck serve APP --workers 2` over WSGI, or with `--mongrel2` (its own chroot)."""
    port = free_port()
    args = [APP, "--port", str(port), "--workers", "2", *more]
    chroot = None
    if transport == "mongrel2":
        chroot = tmp_path / "m2"
        args += ["--mongrel2", "--mongrel2-dir", str(chroot)]
    return supervised(args, f"http://127.0.0.1:{port}", tmp_path, 2, chroot=chroot,
                      env={"BRUBECK_CONCURRENCY": concurrency.active().name})


def logged_ids(log: str, form: str) -> list[str]:
    """The request ids of the access-log lines for /whoami, in the order written."""
    if form == "json":
        lines = [json.loads(line) for line in log[:log.rfind("\n") + 1].splitlines()
                 if line.startswith("{")]
        return [line["request_id"] for line in lines
                if (line["method"], line["path"], line["status"]) == ("GET", "/whoami", 200)]
    return re.findall(r'"GET /whoami" 200 \d+B \d+\.\dms id=(\S+)', log)


@pytest.mark.parametrize("form", ["text", "json"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_access_log_9_one_line_per_request_from_two_supervised_workers(tmp_path, transport,
                                                                      form):
    """The lines carry no pid: each reply names the worker that answered (/whoami), the
    requests go on until both workers have answered (bounded), and every request id sent
    has exactly one line in the supervisor's output, whichever worker wrote it."""
    with two_workers(tmp_path, transport, "--access-log", form) as sup:
        served = Served(sup.url, sup.proc, sup.log_path)
        answered: dict[str, int] = {}
        deadline = time.monotonic() + 60  # a busy machine may start one worker late
        while len(set(answered.values())) < 2 and time.monotonic() < deadline:
            for _ in range(20):
                sent = f"{transport}-{form}-{len(answered)}"
                reply = served.get("/whoami", X_Request_Id=sent)
                assert reply.status == 200 and reply.headers["x-request-id"] == sent
                assert reply.json()["request_id"] == sent
                answered[sent] = reply.json()["pid"]
        assert set(answered.values()) == set(sup.worker_pids())  # both answered
        deadline = time.monotonic() + 10  # the last lines may still be on their way
        while not set(answered) <= set(logged_ids(sup.log(), form)):
            assert time.monotonic() < deadline, f"lines missing:\n{sup.log()[-3000:]}"
            time.sleep(0.05)
        counts = Counter(logged_ids(sup.log(), form))
    assert counts == Counter(set(answered))  # one line a request, none twice, no others
