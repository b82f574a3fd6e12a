"""The process supervisor: Mongrel2 in the foreground plus N worker processes, kept running.

`brubeck serve app.py:app --mongrel2 --workers N` lands here. The supervisor
itself imports no concurrency backend and no app: each worker is a fresh
`python -m brubeck serve` with `BRUBECK_CONNECTION=mongrel2://...`, so a
crashed or killed worker costs only its in-flight requests, and is restarted.
Everything is stopped by PID: workers first (SIGTERM makes them drain), then
Mongrel2.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from ..mongrel2 import config as mongrel2_config
from ..mongrel2.config import CONFIG_NAME, Mongrel2Config

log = logging.getLogger("brubeck.workers")

RESTART_PAUSE = 1.0  # a worker that dies at once is not restarted in a hot loop


class Supervisor:
    """Mongrel2 and N workers, restarted on death, stopped on SIGTERM/SIGINT."""

    def __init__(self, chroot: Path, target: str, workers: int, connection_url: str,
                 server_uuid: str, concurrency: str | None = None,
                 stop_timeout: float = 35.0) -> None:
        self.chroot = Path(chroot)
        self.target = target
        self.count = workers
        self.connection_url = connection_url
        self.server_uuid = server_uuid
        self.concurrency = concurrency
        self.stop_timeout = stop_timeout
        self.mongrel2: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.started_at = [0.0] * workers
        self.stopping = False

    def _worker_command(self) -> list[str]:
        args = [sys.executable, "-m", "brubeck", "serve", self.target]
        if self.concurrency:
            args += ["--concurrency", self.concurrency]
        return args

    def _start_worker(self, slot: int) -> None:
        env = dict(os.environ, BRUBECK_CONNECTION=self.connection_url)
        proc = subprocess.Popen(self._worker_command(), env=env)
        self.workers[slot] = proc
        self.started_at[slot] = time.monotonic()
        log.warning("worker %d started: pid %d", slot + 1, proc.pid)

    def _start_mongrel2(self) -> None:
        mongrel2_config.clear_stale_pid(self.chroot)
        self.mongrel2 = subprocess.Popen(
            mongrel2_config.command(self.chroot, self.server_uuid), cwd=self.chroot)
        log.warning("mongrel2 started: pid %d", self.mongrel2.pid)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT or Mongrel2 dies; return an exit status."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        status = 0
        try:
            self._start_mongrel2()
            for slot in range(self.count):
                self._start_worker(slot)
            while not self.stopping:
                time.sleep(0.1)
                assert self.mongrel2 is not None
                if self.mongrel2.poll() is not None:
                    log.error("mongrel2 exited with %s; stopping", self.mongrel2.returncode)
                    status = 1
                    break
                self._restart_dead()
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return status

    def _restart_dead(self) -> None:
        for slot, proc in enumerate(self.workers):
            if proc is None or proc.poll() is None:
                continue
            if time.monotonic() - self.started_at[slot] < RESTART_PAUSE:
                continue
            log.error("worker %d (pid %d) exited with %s; restarting", slot + 1, proc.pid,
                      proc.returncode)
            self._start_worker(slot)

    def _stop_all(self) -> None:
        live = [p for p in self.workers if p is not None and p.poll() is None]
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        _wait_or_kill(live, self.stop_timeout)
        if self.mongrel2 is not None and self.mongrel2.poll() is None:
            self.mongrel2.send_signal(signal.SIGTERM)
            _wait_or_kill([self.mongrel2], 10.0)
        log.warning("stopped mongrel2 and %d workers", len(live))


def _wait_or_kill(procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("pid %d did not stop in time: SIGKILL", proc.pid)
            proc.kill()
            proc.wait()


def prepare(chroot: Path, port: int | None = None) -> dict[str, str]:
    """Write a config when the chroot has none, then `m2sh load` it."""
    chroot = Path(chroot).resolve()
    if not (chroot / CONFIG_NAME).exists():
        config = Mongrel2Config(chroot=chroot, port=port) if port else Mongrel2Config(chroot)
        config.write()
        log.warning("wrote %s", chroot / CONFIG_NAME)
    for name in mongrel2_config.CHROOT_DIRS:
        (chroot / name).mkdir(exist_ok=True)
    mongrel2_config.load(chroot)
    return mongrel2_config.read_back(chroot)


def serve(target: str, chroot: Path, workers: int, concurrency: str | None = None,
          port: int | None = None) -> int:
    """Load (or write) the config in `chroot` and supervise Mongrel2 and the workers."""
    chroot = Path(chroot).resolve()
    facts = prepare(chroot, port)
    missing = {"server_uuid", "pull_addr", "pub_addr"} - set(facts)
    if missing:
        raise SystemExit(f"brubeck: {chroot / CONFIG_NAME} lacks {sorted(missing)}")
    options = {"chroot": str(chroot)}
    if "upload_store" in facts:
        options["upload_store"] = facts["upload_store"]
    url = f"mongrel2://{facts['pull_addr']},{facts['pub_addr']}?{urlencode(options)}"
    log.warning("serving %s on http://127.0.0.1:%s with %d workers", target,
                facts.get("port", "?"), workers)
    return Supervisor(chroot, target, workers, url, facts["server_uuid"], concurrency).run()
