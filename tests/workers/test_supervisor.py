"""The supervisor's own logic (issue #16 items 2, 3, 5, 8; #18 item 7), with stand-in workers.

`apps/fake_worker.py` speaks only the supervisor's protocol (inherited socket,
ready pipe, SIGTERM), so these tests show what the supervisor does whatever
the workers' backend; tests/workers/test_wsgi_workers.py and test_scaleout.py
run the same stories with real workers.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import time

from tests.support.processes import ROOT, free_port, python_env
from tests.workers.support import (
    answering_pids,
    bodies,
    copy_app,
    load_result,
    start_load,
    supervised,
)


def fake(tmp_path):
    return copy_app(tmp_path, "fake_worker.py")


def serve_args(app, port, workers=2, *more):
    return [f"{app}:app", "--port", str(port), "--workers", str(workers), *more]


def log_time(line: str) -> float:
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def test_scaleout_8_each_worker_counted_up_after_its_ready_signal(tmp_path):
    port = free_port()
    with supervised(serve_args(fake(tmp_path), port), f"http://127.0.0.1:{port}",
                    tmp_path) as sup:
        ready = sup.wait_log(r"worker (\S+) ready \(pid (\d+)\) in (\d+) ms", 2)
        assert sorted(ident for ident, _, _ in ready) == ["1.1", "2.1"]
        assert {int(pid) for _, pid, _ in ready} == set(sup.worker_pids())
        assert answering_pids(sup.url, 2) == {pid for _, pid, _ in ready}


def test_scaleout_8_a_worker_that_never_signals_ready_is_not_counted(tmp_path):
    port = free_port()
    app = fake(tmp_path)
    env = {"FAKE_WORKER": "never-ready", "BRUBECK_READY_TIMEOUT": "1.5"}
    with open(tmp_path / "never.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "brubeck", "serve",
                                 *serve_args(app, port, 1)], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env=python_env(**env),
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "worker 1.2 started" not in (tmp_path / "never.log").read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    text = (tmp_path / "never.log").read_text()
    assert "ready (pid" not in text
    assert re.search(r"worker 1\.1 \(pid \d+\) not ready after 1\.5 s: SIGKILL", text), text
    assert "worker 1.2 started" in text  # and it was replaced


def test_scaleout_2_a_dead_worker_is_noticed_within_a_tenth_of_a_second(tmp_path):
    port = free_port()
    with supervised(serve_args(fake(tmp_path), port), f"http://127.0.0.1:{port}",
                    tmp_path) as sup:
        victim = sup.worker_pids()[0]
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        (line,) = sup.wait_log(rf".*worker \S+ \(pid {victim}\) died \(signal 9\).*", 1)
        noticed = log_time(line) - killed_at
        assert noticed < 0.5, f"noticed {noticed:.3f} s after the kill"  # 0.1 s, 5x slack
        sup.wait_log(r"worker \S+ ready \(pid \d+\)", 3)  # replaced
        assert len(answering_pids(sup.url, 2)) == 2


def test_scaleout_3_sighup_replaces_workers_one_at_a_time_under_load(tmp_path):
    port = free_port()
    app = fake(tmp_path)
    with supervised(serve_args(app, port), f"http://127.0.0.1:{port}", tmp_path) as sup:
        old = set(sup.worker_pids())
        load = start_load(f"{sup.url}/", 50, 6.0)
        time.sleep(1.5)
        app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sup.proc.send_signal(signal.SIGHUP)
        result = load_result(load)
        sup.wait_log(r"drained and exited", 2)
        log = sup.log()
        # One at a time: the second new worker starts only after the first old one left.
        order = re.findall(r"worker (\S+) (started|ready|\(pid \d+\) drained)", log)
        events = [f"{ident} {what.split()[-1]}" for ident, what in order]
        assert events.index("1.1 drained") < events.index("2.2 started"), events
        assert events.index("1.2 ready") < events.index("1.1 drained"), events
        print(f"\nrolling restart under load: {result}")
        assert result["timeouts"] == 0 and result["errors"] == 0, result
        # The stand-in answers HTTP/1.0 and closes: each request gets a new connection, so
        # a resend would be a connection dropped with a request on it.
        assert result["retried"] == 0, result
        assert set(result["status"]) == {"200"}, result
        after = bodies(sup.url, 30)
        assert {b.split()[0] for b in after} == {"v2"}
        assert not {int(b.split()[1]) for b in after} & old


def test_scaleout_5_ctrl_c_to_the_group_drains_and_exits_0(tmp_path):
    port = free_port()
    with supervised(serve_args(fake(tmp_path), port), f"http://127.0.0.1:{port}",
                    tmp_path) as sup:
        pids = sup.worker_pids()
        os.killpg(sup.proc.pid, signal.SIGINT)
        assert sup.proc.wait(20) == 0
        log = sup.log()
        assert "going down: draining 2 workers" in log
        assert re.search(r"stopped: drained workers \[\d+, \d+\]", log), log
        assert "Traceback" not in log
        assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]  # reaped


def test_scaleout_5_sigterm_drains_and_exits_0(tmp_path):
    port = free_port()
    with supervised(serve_args(fake(tmp_path), port, 2, "--shutdown-timeout", "3"),
                    f"http://127.0.0.1:{port}", tmp_path) as sup:
        sup.proc.send_signal(signal.SIGTERM)
        assert sup.proc.wait(20) == 0
        assert "going down: draining 2 workers (shutdown_timeout 3 s)" in sup.log()


def test_devx_7_reload_replaces_workers_when_a_file_changes(tmp_path):
    port = free_port()
    app = fake(tmp_path)
    with supervised(serve_args(app, port, 1, "--reload"), f"http://127.0.0.1:{port}",
                    tmp_path, workers=1) as sup:
        assert {b.split()[0] for b in bodies(sup.url, 3)} == {"v1"}
        time.sleep(0.6)  # one look at the files before the edit
        app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sup.wait_log(r"reload: \S+fake_worker\.py changed")
        sup.wait_log(r"worker 1\.1 \(pid \d+\) drained and exited")
        assert {b.split()[0] for b in bodies(sup.url, 3)} == {"v2"}
        (app.parent / "templates").mkdir()
        (app.parent / "templates" / "page.html").write_text("<p>new</p>")
        sup.wait_log(r"reload: \S+page\.html changed")
        sup.wait_log(r"worker 1\.2 \(pid \d+\) drained and exited")


def test_scaleout_4_a_taken_port_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "brubeck", "serve",
                               *serve_args(fake(tmp_path), port)], cwd=ROOT,
                              env=python_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert done.stderr.strip() == (f"brubeck: cannot listen on 127.0.0.1:{port}: "
                                   "Address already in use"), done.stderr
