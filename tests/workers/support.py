"""Start `brubeck serve ... --workers N` for a test, read its log, and always clean up."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ROOT, python_env, stop

APPS = Path(__file__).parent / "apps"


@dataclass
class Supervised:
    proc: subprocess.Popen
    log_path: Path
    url: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """The first `count` matches of `pattern` in the log, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.findall(pattern, self.log())
            if len(found) >= count:
                return found
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{pattern!r} x{count} not in the supervisor's log "
                                     f"(exit {self.proc.poll()}):\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"worker \S+ started: pid (\d+)", self.log())]


def copy_app(tmp_path: Path, name: str = "versioned.py") -> Path:
    target = tmp_path / "app" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(APPS / name, target)
    return target


@contextlib.contextmanager
def supervised(args: list[str], url: str, tmp_path: Path, workers: int = 2,
               env: dict[str, str] | None = None, chroot: Path | None = None,
               ready_timeout: float = 60.0, prefix: tuple[str, ...] = ()
               ) -> Iterator[Supervised]:
    """`python -m brubeck serve ARGS` (after `prefix`, e.g. `ip netns exec NAME`), in its
    own process group, until all `workers` say ready. Stopped by PID afterwards (and its
    group, and a Mongrel2 in `chroot`)."""
    log_path = tmp_path / f"supervisor-{len(list(tmp_path.glob('supervisor-*')))}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "brubeck", "serve", *args],
                                env=python_env(**(env or {})), cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    proc.leads_group = True  # type: ignore[attr-defined]  (read by `stop`)
    sup = Supervised(proc, log_path, url)
    try:
        sup.wait_log(r"worker \S+ ready \(pid \d+\) in \d+ ms", workers, ready_timeout)
        yield sup
    except BaseException:
        print(f"--- supervisor log:\n{sup.log()[-5000:]}")
        raise
    finally:
        stop(proc, timeout=40)
        for pid in sup.worker_pids():  # in sessions of their own: gone unless it was killed
            kill_brubeck(pid)
        if chroot is not None:
            kill_mongrel2(chroot)


def kill_brubeck(pid: int) -> None:
    """SIGKILL a worker this test started, if it still runs (checked by its command line)."""
    with contextlib.suppress(OSError):
        if b"brubeck" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)


def kill_mongrel2(chroot: Path) -> None:
    """Mongrel2 runs in its own session (Ctrl-C must not reach it): end it by its pid file."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((chroot / "run" / "mongrel2.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)


def fetch(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def bodies(url: str, count: int) -> list[str]:
    return [fetch(url)[1] for _ in range(count)]


def answering_pids(url: str, want: int, seconds: float = 30.0) -> set[str]:
    """The worker pids (a fake worker's body: `version pid`) seen answering, fetched in
    batches until `want` of them have answered or `seconds` pass: the kernel picks the
    process that accepts a connection, and may pick one of them forty times in a row."""
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(seen) < want and time.monotonic() < deadline:
        seen |= {body.split()[1] for body in bodies(url, 20)}
        if len(seen) < want:
            time.sleep(0.1)
    return seen


def start_load(url: str, connections: int, seconds: float, timeout: float = 2.0
               ) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.workers.loader", url,
                             str(connections), str(seconds), str(timeout)],
                            cwd=ROOT, env=python_env(), stdout=subprocess.PIPE)


def load_result(proc: subprocess.Popen, timeout: float = 60.0) -> dict:
    out, _ = proc.communicate(timeout=timeout)
    return json.loads(out)
