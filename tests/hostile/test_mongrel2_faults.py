"""Faults behind Mongrel2: a worker SIGKILLed under load, Mongrel2 restarted under its workers.

Real processes on loopback: `brubeck serve --mongrel2 --workers 2` (the
supervisor) or the real mongrel2 plus a worker process, all stopped by PID.
SIGTERM draining is tested in tests/connections/test_mongrel2.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

from brubeck import concurrency
from brubeck.mongrel2 import config as mongrel2_config
from tests.hostile import rawhttp
from tests.support.mongrel2 import free_config, mongrel2_server
from tests.support.processes import ROOT, python_env, stop

WORKER_APP = "tests/connections/m2_worker_app.py"
LOAD_SECONDS = 10.0
CLIENTS = 40
REQUEST_TIMEOUT = 3.0  # a request held by a killed worker is never answered: this ends it
KILL_AT = 3.0


@dataclass
class Outcome:
    started: float
    result: str  # "ok", or how it failed
    pid: str = ""


def one_request(port: int, path: str, timeout: float = REQUEST_TIMEOUT) -> Outcome:
    started = time.monotonic()
    try:
        reply = rawhttp.exchange(port, rawhttp.get(path), timeout=timeout)
    except TimeoutError:
        return Outcome(started, "timed out (no reply)")
    except rawhttp.NoReply:
        return Outcome(started, "closed without a reply")
    except OSError as error:
        return Outcome(started, type(error).__name__)
    if reply.status != 200:
        return Outcome(started, f"status {reply.status}")
    return Outcome(started, "ok", reply.body.decode())


def in_parallel(port: int, path: str, count: int, timeout: float = REQUEST_TIMEOUT) -> list:
    backend = concurrency.active()
    threads = [backend.spawn(one_request, port, path, timeout) for _ in range(count)]
    return [t.get() if hasattr(t, "get") else t.wait() for t in threads]


def wait_for_pids(port: int, want: int, exclude: set[str] = frozenset(),
                  timeout: float = 30.0) -> set[str]:
    """Worker pids seen answering, until `want` of them outside `exclude` have answered."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen - exclude) < want and time.monotonic() < deadline:
        seen |= {o.pid for o in in_parallel(port, "/slow?seconds=0.1", 10, 2.0) if o.pid}
    assert len(seen - exclude) >= want, f"saw workers {seen}, wanted {want} besides {exclude}"
    return seen


def load_client(port: int, until: float, outcomes: list[Outcome]) -> None:
    while time.monotonic() < until:
        outcomes.append(one_request(port, "/slow?seconds=0.02"))


def test_sigkill_of_a_worker_during_a_10s_load_run(tmp_path):
    config = free_config(tmp_path / "m2")
    config.write()
    log = open(tmp_path / "supervisor.log", "wb")  # noqa: SIM115 (the supervisor's, for the test's life)
    sup = subprocess.Popen(
        [sys.executable, "-m", "brubeck", "serve", f"{WORKER_APP}:app", "--mongrel2",
         "--workers", "2", "--mongrel2-dir", str(config.chroot)],
        env=python_env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    backend = concurrency.active()
    try:
        before = wait_for_pids(config.port, 2)
        outcomes: list[Outcome] = []
        start = time.monotonic()
        clients = [backend.spawn(load_client, config.port, start + LOAD_SECONDS, outcomes)
                   for _ in range(CLIENTS)]
        backend.sleep(KILL_AT)
        victim = sorted(before)[0]
        killed_at = time.monotonic()
        os.kill(int(victim), signal.SIGKILL)
        for client in clients:
            client.get() if hasattr(client, "get") else client.wait()
        failed = [o for o in outcomes if o.result != "ok"]
        how = Counter(o.result for o in failed)
        print(f"\nSIGKILL of worker {victim} at {killed_at - start:.1f} s of a "
              f"{LOAD_SECONDS:.0f} s run, {CLIENTS} clients: {len(outcomes)} requests, "
              f"{len(failed)} failed: {dict(how)}; failures started "
              f"{[round(o.started - killed_at, 2) for o in failed]} s from the kill")
        assert sup.poll() is None, "the supervisor died"
        # Only requests in flight at the kill fail: at most one per client.
        assert len(failed) <= CLIENTS
        assert all(-REQUEST_TIMEOUT < o.started - killed_at < 1.0 for o in failed)
        assert all(o.pid != victim for o in outcomes if o.started > killed_at + 0.5)
        after_run = [o for o in outcomes if o.started > killed_at + 1.0]
        assert after_run and all(o.result == "ok" for o in after_run)
        # Afterwards: the supervisor restarted the worker, and every new request succeeds.
        wait_for_pids(config.port, 1, exclude=before)
        after = [o for _ in range(10) for o in in_parallel(config.port, "/pid", 20)]
        assert Counter(o.result for o in after) == Counter(ok=200)
        assert victim not in {o.pid for o in after}
    finally:
        stop(sup, timeout=40)
        log.close()


def test_workers_reconnect_when_mongrel2_restarts(tmp_path):
    config = free_config(tmp_path / "m2")
    worker = None
    with mongrel2_server(config.chroot, config=config) as m2:
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / WORKER_APP)], cwd=ROOT, stdout=subprocess.DEVNULL,
            env=python_env(BRUBECK_CONNECTION=m2.connection_url), stderr=subprocess.DEVNULL)
        try:
            (pid,) = wait_for_pids(config.port, 1)
        except BaseException:
            stop(worker)
            raise
    try:
        assert one_request(config.port, "/pid", 1.0).result != "ok"  # Mongrel2 is down
        mongrel2_config.clear_stale_pid(config.chroot)
        with mongrel2_server(config.chroot, config=config):
            deadline = time.monotonic() + 20
            attempts = []
            while time.monotonic() < deadline:
                attempts.append(one_request(config.port, "/pid", 1.0))
                if attempts[-1].result == "ok":
                    break
            print(f"\nafter the restart: {len(attempts)} attempts until the first reply, "
                  f"{Counter(a.result for a in attempts)}")
            assert attempts[-1].result == "ok"
            after = [o for _ in range(5) for o in in_parallel(config.port, "/pid", 20)]
            assert [o.result for o in after] == ["ok"] * 100
            assert {o.pid for o in after} == {pid}  # the same process, reconnected
            assert worker.poll() is None
    finally:
        stop(worker)


def test_sigterm_stops_an_idle_worker_promptly_after_load(tmp_path):
    """Under eventlet a SIGTERM arriving while the hub sleeps in its poll used to be
    noticed only at the next event: an idle worker after a burst ignored it (35 s,
    then the supervisor's SIGKILL)."""
    config = free_config(tmp_path / "m2")
    backend = concurrency.active()
    with mongrel2_server(config.chroot, config=config) as m2:
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / WORKER_APP)], cwd=ROOT, stdout=subprocess.DEVNULL,
            env=python_env(BRUBECK_CONNECTION=m2.connection_url), stderr=subprocess.DEVNULL)
        try:
            wait_for_pids(config.port, 1)
            outcomes: list[Outcome] = []
            until = time.monotonic() + 2.0
            clients = [backend.spawn(load_client, config.port, until, outcomes)
                       for _ in range(CLIENTS)]
            for client in clients:
                client.get() if hasattr(client, "get") else client.wait()
            assert {o.result for o in outcomes} == {"ok"}
            backend.sleep(1.0)  # idle: the worker's hub is asleep in its poll
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(5) == 0
            assert time.monotonic() - started < 2.0
        finally:
            stop(worker)
