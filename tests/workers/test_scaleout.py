"""Mongrel2 workers under the supervisor and this host's dispatcher, for real (issue #16
items 2, 3, 7): a SIGKILLed worker's requests are answered, SIGHUP replaces every worker
under load without a failed request, local workers talk over ipc in a 0700 directory.

Mongrel2, the supervisor and its workers are real processes on loopback; the
load is tests/workers/loader.py in its own process (keep-alive clients, 2 s
timeout).
"""

from __future__ import annotations

import os
import re
import signal
import stat
import time
from pathlib import Path

import pytest

from brubeck.mongrel2.config import read_back
from tests.support.mongrel2 import mongrel2_server
from tests.support.processes import free_port
from tests.workers.support import (
    bodies,
    copy_app,
    load_result,
    start_load,
    supervised,
)

LOAD_SECONDS = 10.0
CONNECTIONS = 100


def local(tmp_path, app, workers=2):
    """`--mongrel2`: the supervisor writes an ipc config in a fresh chroot and runs Mongrel2."""
    port = free_port()
    chroot = tmp_path / "m2"
    args = [f"{app}:app", "--mongrel2", "--workers", str(workers), "--mongrel2-dir",
            str(chroot), "--port", str(port)]
    return supervised(args, f"http://127.0.0.1:{port}", tmp_path, workers, chroot=chroot)


def test_scaleout_2_sigkilled_worker_requests_answered(tmp_path):
    app = copy_app(tmp_path)
    with local(tmp_path, app) as sup:
        pids = sup.worker_pids()
        load = start_load(f"{sup.url}/?sleep=0.05", CONNECTIONS, LOAD_SECONDS)
        time.sleep(3.0)
        os.kill(pids[0], signal.SIGKILL)
        result = load_result(load)
        (held,) = sup.wait_log(rf"\(pid {pids[0]}\) died \(signal 9\); (\d+) requests it held "
                               r"answered 503")
        keys = ("requests", "status", "timeouts", "errors", "retried")
        print(f"\nSIGKILL of 1 of 2 workers at 3 s of a {LOAD_SECONDS:.0f} s load, "
              f"{CONNECTIONS} connections: {held} held requests answered 503; load: "
              f"{ {k: result[k] for k in keys} }")
        assert result["timeouts"] == 0, result
        assert result["errors"] == 0, result
        assert result["retried"] == 0, result  # Mongrel2 holds the client connections
        assert set(result["status"]) <= {"200", "503"}, result
        # The worker held requests when it died (100 connections, 50 ms each), and each of
        # them, and nothing else, reached the load as a 503.
        assert int(held) > 0, result
        assert int(result["status"].get("503", 0)) == int(held), (held, result)
        sup.wait_log(r"worker 1\.2 ready")  # replaced
        assert all(body.startswith("v1 ") for body in bodies(sup.url, 10))


@pytest.mark.parametrize("form", ["local", "remote"])
def test_scaleout_3_sighup_rolling_restart_under_load(tmp_path, form):
    app = copy_app(tmp_path)
    if form == "local":
        context = local(tmp_path, app)
        remote = None
    else:
        remote = mongrel2_server(tmp_path / "m2")
        m2 = remote.__enter__()
        url = m2.connection_url.partition("?")[0]
        context = supervised([f"{app}:app", "--workers", "2", "--connection", url], m2.url,
                             tmp_path)
    try:
        with context as sup:
            old = set(sup.worker_pids())
            load = start_load(f"{sup.url}/?sleep=0.01", CONNECTIONS, LOAD_SECONDS)
            time.sleep(1.0)
            app.write_text(app.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
            sup.proc.send_signal(signal.SIGHUP)
            result = load_result(load)
            sup.wait_log(r"\(pid \d+\) drained and exited", 2, timeout=60)
            keys = ("requests", "status", "timeouts", "errors", "retried")
            print(f"\nSIGHUP rolling restart of 2 workers ({form} Mongrel2) during a "
                  f"{LOAD_SECONDS:.0f} s load, {CONNECTIONS} connections: "
                  f"{ {k: result[k] for k in keys} }, "
                  f"versions {sorted({b.split()[0] for b in result['bodies']})}")
            assert result["timeouts"] == 0 and result["errors"] == 0, result
            assert set(result["status"]) == {"200"}, result
            # Behind Mongrel2 the client connections are Mongrel2's: no request sent twice.
            assert result["retried"] == 0, result
            # The new code answered during the load, not only after it.
            assert any(b.startswith("v2 ") for b in result["bodies"]), result["bodies"]
            after = bodies(sup.url, 20)
            assert {b.split()[0] for b in after} == {"v2"}
            assert not {int(b.split()[1]) for b in after} & old
    finally:
        if remote is not None:
            remote.__exit__(None, None, None)


def test_scaleout_7_local_workers_reach_the_dispatcher_over_ipc_in_a_0700_dir(tmp_path):
    app = copy_app(tmp_path)
    with local(tmp_path, app) as sup:
        (address,) = sup.wait_log(r"workers at ipc://(\S+)")
        socket_path = Path(address)
        assert len(str(socket_path).encode()) <= 107
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        assert socket_path.parent.stat().st_mode & 0o777 == 0o700
        assert socket_path.parent.stat().st_uid == os.getuid()
        # The config the supervisor wrote keeps Mongrel2's side on ipc too, in a 0700 run/.
        chroot = tmp_path / "m2"
        facts = read_back(chroot)
        assert facts["pull_addr"].startswith("ipc://run/")
        assert facts["pub_addr"].startswith("ipc://run/")
        assert (chroot / "run").stat().st_mode & 0o777 == 0o700
        assert re.search(r"PULL ipc://\S+/m2/run/handler-send\.sock", sup.log())
        assert {b.split()[0] for b in bodies(sup.url, 4)} == {"v1"}
        sup.proc.send_signal(signal.SIGTERM)
        assert sup.proc.wait(40) == 0
    assert not socket_path.parent.exists()


def test_scaleout_7_remote_form_reaches_mongrel2_over_tcp(tmp_path):
    app = copy_app(tmp_path)
    with mongrel2_server(tmp_path / "m2") as m2:
        url = m2.connection_url.partition("?")[0]
        assert url.startswith("mongrel2://tcp://127.0.0.1:")
        with supervised([f"{app}:app", "--workers", "2", "--connection", url], m2.url,
                        tmp_path) as sup:
            assert "mongrel2 started" not in sup.log()
            seen = set()
            deadline = time.monotonic() + 20
            while len(seen) < 2 and time.monotonic() < deadline:
                seen |= {b.split()[1] for b in bodies(sup.url, 10)}
            assert seen == {str(p) for p in sup.worker_pids()}


def ignored_signals(pid: int) -> int:
    """The SigIgn mask of a process, from /proc (bit n-1 for signal n)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.M).group(1), 16)


def test_scaleout_5_ctrl_c_to_the_group_drains_mongrel2_workers_and_exits_0(tmp_path):
    app = copy_app(tmp_path)
    with local(tmp_path, app) as sup:
        mongrel2_pid = int((tmp_path / "m2" / "run" / "mongrel2.pid").read_text())
        # Each child out of the group's reach, in a group of its own, but in the
        # supervisor's session: a session of its own is a CPU group of its own
        # where the kernel schedules sessions as groups (autogroup).
        for child in (mongrel2_pid, *sup.worker_pids()):
            assert os.getpgid(child) == child
            assert os.getsid(child) == os.getsid(sup.proc.pid)
            assert ignored_signals(child) & (1 << (signal.SIGTTOU - 1))  # `stty tostop`
        # One request per connection (the load ends before any answer), 3 s each.
        load = start_load(f"{sup.url}/?sleep=3", 20, 0.5, timeout=20)
        time.sleep(1.5)  # all 20 in flight
        os.killpg(sup.proc.pid, signal.SIGINT)
        result = load_result(load)
        assert sup.proc.wait(40) == 0
        log = sup.log()
        assert "going down: draining 2 workers" in log
        assert re.search(r"stopped: drained workers \[\d+, \d+\]; 0 requests answered 503", log)
        assert "Traceback" not in log, log
        assert result["status"] == {"200": 20}, result  # all drained, none cut short
        assert not Path(f"/proc/{mongrel2_pid}").exists()  # stopped last, by the supervisor


def test_scaleout_8_direct_path_workers_counted_up_by_their_ready_pipe(tmp_path):
    app = copy_app(tmp_path)
    port = free_port()
    chroot = tmp_path / "m2"
    with supervised([f"{app}:app", "--mongrel2", "--no-dispatcher", "--workers", "2",
                     "--mongrel2-dir", str(chroot), "--port", str(port)],
                    f"http://127.0.0.1:{port}", tmp_path, 2, chroot=chroot,
                    env={"BRUBECK_READY_TIMEOUT": "20"}, ready_timeout=30) as sup:
        assert "Mongrel2 directly" in sup.log()
        assert {b.split()[0] for b in bodies(sup.url, 4)} == {"v1"}
