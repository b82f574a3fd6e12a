"""The supervisor loop: N workers kept up, a dead one answered for and replaced, SIGHUP
replaces them one at a time, SIGINT/SIGTERM drain them all.

It imports no concurrency backend and no app: each worker is a fresh
`python -m brubeck serve` (see `kinds`), so new code is loaded by new workers
and a crash costs one process. Workers and a local Mongrel2 lead process groups
of their own: only the supervisor signals them, each once, in order. The
loop wakes on any signal (SIGCHLD included, through `signal.set_wakeup_fd`)
and at least every `TICK` seconds, so a death is noticed within 0.1 s.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..mongrel2 import config as mongrel2_config
from .kinds import ENV_READY_FD, ENV_WORKER_ID, Kind, Worker

log = logging.getLogger("brubeck.workers")

TICK = 0.05  # the longest the loop sleeps: deaths are seen within this (+ a poll)
RESTART_PAUSE = 1.0  # a worker that dies at once is not restarted in a hot loop
#: A worker not ready by then is killed (and, unless it was a replacement, restarted).
READY_TIMEOUT = 60.0
ENV_READY_TIMEOUT = "BRUBECK_READY_TIMEOUT"  # for apps slower to start than that
KILL_GRACE = 5.0  # past shutdown_timeout the worker answers stragglers 503 itself; then SIGKILL
ENV_SHUTDOWN_TIMEOUT = "BRUBECK_SHUTDOWN_TIMEOUT"
#: Popen arguments for a child leading its own process group, out of reach of a
#: Ctrl-C to the supervisor's. Not a session of its own: where the kernel groups
#: sessions for scheduling (autogroup), each would share the CPU as a group with
#: the others, which doubled the tail latency of two Mongrel2 workers (docs/deploy.rst).
OWN_PROCESS_GROUP: dict[str, Any] = (
    {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp})


class Mongrel2Process:
    """A local Mongrel2 in the foreground, leading its own process group: a Ctrl-C to the
    supervisor's process group must not close client connections before the
    workers have answered them. It is stopped last."""

    def __init__(self, chroot: Path, server_uuid: str) -> None:
        self.chroot = chroot
        self.server_uuid = server_uuid
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        mongrel2_config.clear_stale_pid(self.chroot)
        self.proc = subprocess.Popen(mongrel2_config.command(self.chroot, self.server_uuid),
                                     cwd=self.chroot, **OWN_PROCESS_GROUP)
        log.warning("mongrel2 started: pid %d", self.proc.pid)

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10.0)
            except subprocess.TimeoutExpired:
                log.error("mongrel2 (pid %d) did not stop in 10 s: SIGKILL", self.proc.pid)
                self.proc.kill()
                self.proc.wait()


class Supervisor:
    """N workers of one `kind`, optionally behind a local Mongrel2.

    `watch` (for `--reload`) is called every tick and returns True when the
    app's files changed: that starts a rolling restart, as SIGHUP does.
    """

    def __init__(self, target: str, workers: int, kind: Kind, *,
                 concurrency: str | None = None, shutdown_timeout: float = 30.0,
                 mongrel2: Mongrel2Process | None = None,
                 watch: Callable[[], bool] | None = None,
                 extra_args: list[str] | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.target = target
        self.count = workers
        self.kind = kind
        self.concurrency = concurrency
        self.shutdown_timeout = shutdown_timeout
        self.mongrel2 = mongrel2
        self.watch = watch
        self.extra_args = extra_args or []
        self.ready_timeout = float(os.environ.get(ENV_READY_TIMEOUT) or READY_TIMEOUT)
        self.current: list[Worker | None] = [None] * workers
        self.incoming: list[Worker | None] = [None] * workers  # replacements not yet ready
        self.draining: list[Worker] = []  # retired and SIGTERMed, not yet exited
        self.restart_at: dict[int, float] = {}  # slot -> when to restart its dead worker
        self.generation = [0] * workers
        self.rolling: list[int] = []  # slots still to replace in this rolling restart
        self.hangup = False
        self.stopping = False
        self.status = 0
        self.lost_total = 0
        self.selector = selectors.DefaultSelector()

    # -- starting a worker -----------------------------------------------------------

    def _command(self) -> list[str]:
        args = [sys.executable, "-m", "brubeck", "serve", self.target, *self.extra_args]
        if self.concurrency:
            args += ["--concurrency", self.concurrency]
        return args

    def _start_worker(self, slot: int) -> Worker:
        self.generation[slot] += 1
        ident = f"{slot + 1}.{self.generation[slot]}"
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        env = dict(os.environ, **self.kind.env(ident))
        env[ENV_WORKER_ID] = ident
        env[ENV_READY_FD] = str(write_end)
        env[ENV_SHUTDOWN_TIMEOUT] = str(self.shutdown_timeout)
        try:
            # Its own process group: a Ctrl-C to the supervisor's group reaches the
            # supervisor only, which retires and signals each worker once (a second
            # signal would cut the worker's drain short).
            proc = subprocess.Popen(self._command(), env=env, **OWN_PROCESS_GROUP,
                                    pass_fds=(write_end, *self.kind.pass_fds()))
        finally:
            os.close(write_end)
        worker = Worker(slot, self.generation[slot], proc, read_end)
        self.selector.register(read_end, selectors.EVENT_READ, worker)
        log.warning("worker %s started: pid %d", ident, proc.pid)
        return worker

    def _forget_pipe(self, worker: Worker) -> None:
        if worker.ready_fd is not None:
            self.selector.unregister(worker.ready_fd)
            worker.close_pipe()

    # -- the loop --------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or a local Mongrel2 dies); return an exit status."""
        self.kind.start()
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_fd = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        # SIGTTOU ignored, and so by the children started meanwhile: in a process group
        # of their own, a terminal set to `stty tostop` would stop them at their
        # first log line (they are not its foreground group).
        handlers: dict[int, Any] = {
            signal.SIGTERM: self._on_stop, signal.SIGINT: self._on_stop,
            signal.SIGHUP: self._on_hangup, signal.SIGCHLD: _wake_only,
            signal.SIGTTOU: signal.SIG_IGN}
        previous = {s: signal.signal(s, h) for s, h in handlers.items()}
        self.selector.register(wake_read, selectors.EVENT_READ, None)
        try:
            if self.mongrel2 is not None:
                self.mongrel2.start()
            log.warning("serving %s with %d workers: %s", self.target, self.count,
                        self.kind.describe())
            for slot in range(self.count):
                self.current[slot] = self._start_worker(slot)
            while not self.stopping:
                self._wait(wake_read)
                self._tick()
        finally:
            self._shutdown()
            signal.set_wakeup_fd(previous_fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.selector.close()
            os.close(wake_read)
            os.close(wake_write)
        return self.status

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _on_hangup(self, signum: int, frame: object) -> None:
        self.hangup = True

    def _wait(self, wake_read: int) -> None:
        for key, _ in self.selector.select(TICK):
            if key.data is None:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            else:
                worker: Worker = key.data
                fd = worker.ready_fd
                worker.read_ready()
                if worker.ready_fd is None and fd is not None:
                    self.selector.unregister(fd)

    def _tick(self) -> None:
        now = time.monotonic()
        if self.mongrel2 is not None and self.mongrel2.exited() is not None:
            log.error("mongrel2 exited with %s; stopping", self.mongrel2.exited())
            self.status = 1
            self.stopping = True
            return
        self._reap(now)
        self._count_ready(now)
        if self.hangup or (self.watch is not None and self.watch()):
            self.hangup = False
            self._begin_rolling_restart()
        self._roll(now)
        self._restart_dead(now)

    # -- deaths ------------------------------------------------------------------------

    def _reap(self, now: float) -> None:
        for slot in range(self.count):
            worker = self.current[slot]
            if worker is not None and worker.proc.poll() is not None:
                self.current[slot] = None
                self._died(worker, "died")
                if self.incoming[slot] is None:
                    self.restart_at[slot] = max(now, worker.started + RESTART_PAUSE)
            new = self.incoming[slot]
            if new is not None and new.proc.poll() is not None:
                self.incoming[slot] = None
                self._died(new, "died before it was ready")
                self._abort_rolling(f"worker {new.ident} exited before it was ready")
                if self.current[slot] is None:  # the one it was to replace is gone too
                    self.restart_at[slot] = max(now, new.started + RESTART_PAUSE)
        for worker in list(self.draining):
            if worker.proc.poll() is not None:
                self.draining.remove(worker)
                self._died(worker, "drained")
            elif worker.kill_at is not None and now > worker.kill_at:
                log.error("worker %s (pid %d) did not drain in %.0f s: SIGKILL", worker.ident,
                          worker.pid, self.shutdown_timeout + KILL_GRACE)
                worker.proc.kill()
                worker.kill_at = None

    def _died(self, worker: Worker, how: str) -> None:
        """Answer for what a worker held (the dispatcher knows it), and say so."""
        self._forget_pipe(worker)
        answered = self.kind.lost(worker)
        self.lost_total += answered
        code = worker.proc.returncode
        status = f"signal {-code}" if code < 0 else f"status {code}"
        if how == "drained" and code == 0 and not answered:
            log.warning("worker %s (pid %d) drained and exited", worker.ident, worker.pid)
        else:
            log.error("worker %s (pid %d) %s (%s); %d requests it held answered 503",
                      worker.ident, worker.pid, how, status, answered)

    def _restart_dead(self, now: float) -> None:
        for slot, when in list(self.restart_at.items()):
            if now >= when and not self.stopping:
                del self.restart_at[slot]
                self.current[slot] = self._start_worker(slot)

    # -- readiness ---------------------------------------------------------------------

    def _count_ready(self, now: float) -> None:
        for worker in (*self.current, *self.incoming):
            if worker is None or worker.ready_at is not None:
                continue
            if self.kind.is_ready(worker):
                worker.ready_at = now
                log.warning("worker %s ready (pid %d) in %d ms", worker.ident, worker.pid,
                            round((now - worker.started) * 1000))
                self._forget_pipe(worker)
            elif now - worker.started > self.ready_timeout and not worker.killed:
                worker.killed = True
                log.error("worker %s (pid %d) not ready after %g s: SIGKILL", worker.ident,
                          worker.pid, self.ready_timeout)
                worker.proc.kill()

    # -- rolling restart ---------------------------------------------------------------

    def _begin_rolling_restart(self) -> None:
        busy = bool(self.rolling) or any(w is not None for w in self.incoming)
        self.rolling = list(range(self.count))
        log.warning("rolling restart of %d workers%s", self.count,
                    " (again, after the one under way)" if busy else "")

    def _abort_rolling(self, reason: str) -> None:
        if self.rolling:
            log.error("rolling restart stopped: %s; the other workers keep their code", reason)
        self.rolling = []

    def _roll(self, now: float) -> None:
        """One step: start a slot's new worker; once ready, retire and SIGTERM the old one;
        once the old one is gone, the next slot."""
        for slot in range(self.count):
            new = self.incoming[slot]
            if new is None or new.ready_at is None:
                continue
            old = self.current[slot]
            self.current[slot] = new
            self.incoming[slot] = None
            if old is not None:
                self._retire(old, now)
        if any(w is not None for w in self.incoming) or self.draining or not self.rolling:
            return
        slot = self.rolling.pop(0)
        self.restart_at.pop(slot, None)
        self.incoming[slot] = self._start_worker(slot)

    def _retire(self, worker: Worker, now: float) -> None:
        """No new work for it (the dispatcher first), then SIGTERM: it drains and exits."""
        worker.retired = True
        if worker.proc.poll() is None:
            self.kind.retire(worker)
            worker.proc.send_signal(signal.SIGTERM)
        worker.kill_at = now + self.shutdown_timeout + KILL_GRACE
        self.draining.append(worker)

    # -- going down --------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Retire and SIGTERM every worker, wait for their drain, then the dispatcher and
        Mongrel2. Bounded: SIGKILL after shutdown_timeout plus a grace."""
        now = time.monotonic()
        workers = [w for w in (*self.current, *self.incoming) if w is not None]
        self.current = [None] * self.count
        self.incoming = [None] * self.count
        log.warning("going down: draining %d workers (shutdown_timeout %.0f s)",
                    len(workers) + len(self.draining), self.shutdown_timeout)
        self.kind.going_down()
        for worker in workers:
            self._retire(worker, now)
        deadline = now + self.shutdown_timeout + KILL_GRACE + 1.0
        drained = [w.pid for w in self.draining]
        while self.draining and time.monotonic() < deadline:
            time.sleep(TICK)
            self._reap(time.monotonic())
        for worker in self.draining:  # only if SIGKILL itself did not end them
            worker.proc.kill()
            worker.proc.wait()
            self._died(worker, "killed")
        self.draining = []
        try:
            self.kind.stop(5.0)
        finally:
            if self.mongrel2 is not None:
                self.mongrel2.stop()
        log.warning("stopped: drained workers %s; %d requests answered 503 for dead workers",
                    drained, self.lost_total)


def _wake_only(signum: int, frame: object) -> None:
    """SIGCHLD: nothing to do but wake the loop (the wakeup fd does that)."""
