"""Real WSGI workers and real Mongrel2 workers under the supervisor (issue #16 items 3, 4, 5;
#18 item 7): one listening socket shared by N workers, SIGHUP rolling restart under load,
Ctrl-C drains, `--reload` on an edited file and an edited Jinja2 template. Run on each
backend (BRUBECK_CONCURRENCY)."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import time

from tests.servers.test_shutdown import in_background
from tests.support.processes import ROOT, free_port
from tests.workers.support import bodies, copy_app, fetch, load_result, start_load, supervised

LOAD_SECONDS = 10.0
CONNECTIONS = 100


def wsgi(tmp_path, app, workers=2, *more):
    port = free_port()
    return supervised([f"{app}:app", "--port", str(port), "--workers", str(workers), *more],
                      f"http://127.0.0.1:{port}", tmp_path, workers)


def get_status(host: str, port: int, path: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def pids_seen(url: str, want: int, timeout: float = 20.0) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        seen |= {b.split()[1] for b in bodies(url, 10)}
    return seen


def test_scaleout_4_two_wsgi_workers_serve_from_both_pids(tmp_path):
    with wsgi(tmp_path, copy_app(tmp_path)) as sup:
        assert pids_seen(sup.url, 2) == {str(p) for p in sup.worker_pids()}
        assert re.search(r"WSGI on http://127\.0\.0\.1:\d+", sup.log())


def test_scaleout_3_wsgi_rolling_restart_under_load(tmp_path):
    app = copy_app(tmp_path)
    with wsgi(tmp_path, app) as sup:
        old = set(sup.worker_pids())
        load = start_load(f"{sup.url}/?sleep=0.01", CONNECTIONS, LOAD_SECONDS)
        time.sleep(1.0)
        app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sup.proc.send_signal(signal.SIGHUP)
        result = load_result(load)
        sup.wait_log(r"\(pid \d+\) drained and exited", 2, timeout=60)
        print(f"\nSIGHUP rolling restart of 2 WSGI workers during a {LOAD_SECONDS:.0f} s load, "
              f"{CONNECTIONS} keep-alive connections: "
              f"{ {k: result[k] for k in ('requests', 'status', 'timeouts', 'errors')} }, "
              f"{result['retried']} sent again after an idle keep-alive close, versions "
              f"{sorted({b.split()[0] for b in result['bodies']})}")
        assert result["timeouts"] == 0 and result["errors"] == 0, result
        assert set(result["status"]) == {"200"}, result
        assert any(b.startswith("v2 ") for b in result["bodies"]), "no v2 during the load"
        after = bodies(sup.url, 20)
        assert {b.split()[0] for b in after} == {"v2"}
        assert not {int(b.split()[1]) for b in after} & old


def test_scaleout_5_ctrl_c_drains_wsgi_workers_and_exits_0(tmp_path):
    with wsgi(tmp_path, copy_app(tmp_path)) as sup:
        host, port = sup.url.removeprefix("http://").split(":")
        # In flight when the signal comes (threads start at once; the loader process may
        # take over a second to start on a loaded machine, and then finds the door shut).
        slow = [in_background(get_status, host, int(port), "/?sleep=2") for _ in range(4)]
        load = start_load(f"{sup.url}/?sleep=0.5", 10, 1.5)
        time.sleep(1.0)
        os.killpg(sup.proc.pid, signal.SIGINT)
        assert [answered() for answered in slow] == [200] * 4
        result = load_result(load)
        assert sup.proc.wait(40) == 0
        log = sup.log()
        assert "going down: draining 2 workers" in log
        assert "Traceback" not in log, log
        assert result["timeouts"] == 0, result  # refused or answered, never left waiting


def test_scaleout_5_going_down_refuses_new_connections_at_once(tmp_path):
    """The supervisor closes its copy of the listening socket when it goes down (the
    workers close theirs as they drain): a client is refused, not queued until exit."""
    with wsgi(tmp_path, copy_app(tmp_path)) as sup:
        host, port = sup.url.removeprefix("http://").split(":")
        slow = in_background(get_status, host, int(port), "/?sleep=3")  # holds the exit
        time.sleep(1.0)
        sup.proc.send_signal(signal.SIGTERM)
        sup.wait_log(r"going down: draining 2 workers")
        refused = False
        deadline = time.monotonic() + 2.0  # the workers close theirs within Shutdown.poll
        while not refused and time.monotonic() < deadline:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        assert refused, "a new connection was still accepted while the workers drained"
        assert sup.proc.poll() is None  # refused while the drain went on, not after exit
        assert slow() == 200
        assert sup.proc.wait(40) == 0


def test_devx_7_reload_serves_an_edited_file_over_wsgi(tmp_path):
    app = copy_app(tmp_path)
    with wsgi(tmp_path, app, 1, "--reload") as sup:
        assert bodies(sup.url, 1)[0].startswith("v1 ")
        time.sleep(0.6)
        app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sup.wait_log(r"worker 1\.1 \(pid \d+\) drained and exited", timeout=60)
        assert bodies(sup.url, 3)[0].startswith("v2 ")


def test_devx_7_reload_serves_an_edited_jinja2_template_over_wsgi(tmp_path):
    """The shipped Jinja2 example, copied: its Environment keeps compiled templates
    (`auto_reload=False`, load_jinja2_env's default), so only the restart that --reload
    makes can serve the edited template."""
    example = tmp_path / "templates_jinja2"
    shutil.copytree(ROOT / "examples" / "templates_jinja2", example)
    page = example / "templates" / "success.html"
    with wsgi(tmp_path, example / "app.py", 1, "--reload") as sup:
        status, body = fetch(f"{sup.url}/brubeck?name=Ann")
        assert (status, "<h1>Take five, Ann!</h1>" in body) == (200, True), body
        time.sleep(0.6)
        page.write_text(page.read_text().replace("Take five", "Take six"))
        sup.wait_log(r"reload: \S+success\.html changed", timeout=60)
        sup.wait_log(r"worker 1\.1 \(pid \d+\) drained and exited", timeout=60)
        after = [fetch(f"{sup.url}/brubeck?name=Ann") for _ in range(3)]
    assert all(status == 200 and "<h1>Take six, Ann!</h1>" in body for status, body in after)


def test_devx_7_reload_serves_an_edited_file_behind_mongrel2(tmp_path):
    app = copy_app(tmp_path)
    port = free_port()
    chroot = tmp_path / "m2"
    with supervised([f"{app}:app", "--mongrel2", "--workers", "1", "--reload",
                     "--mongrel2-dir", str(chroot), "--port", str(port)],
                    f"http://127.0.0.1:{port}", tmp_path, 1, chroot=chroot) as sup:
        assert bodies(sup.url, 1)[0].startswith("v1 ")
        time.sleep(0.6)
        app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sup.wait_log(r"worker 1\.1 \(pid \d+\) drained and exited", timeout=60)
        assert {b.split()[0] for b in bodies(sup.url, 3)} == {"v2"}
