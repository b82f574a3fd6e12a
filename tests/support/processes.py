"""Start and stop real server processes for tests: free loopback ports, stop by PID."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]



def _port_range() -> range:
    """20000-31999: below Linux's ephemeral range (32768-60999), so that no client
    connection of the busy test run (thousands in TIME_WAIT after the load tests) can
    take a port between our choosing it and a server binding it. BRUBECK_TEST_PORTS=
    LOW-HIGH narrows it: scripts/test.sh gives each of its concurrent runs (one per
    backend) a range of its own, since one run cannot see the ports the other chose."""
    low, _, high = os.environ.get("BRUBECK_TEST_PORTS", "20000-31999").partition("-")
    return range(int(low), int(high) + 1)


_PORTS = _port_range()
_RANDOM = random.Random()  # its own: hypothesis seeds the global one
#: Every port handed out in this process. A probe only says a port is free *now*;
#: nothing holds it until the server binds, so two probes (a Mongrel2 config's HTTP,
#: PULL and PUB, or two tests' servers) could return the same one. Never twice.
_HANDED_OUT: set[int] = set()
_LOCK = threading.Lock()


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct loopback ports, free now, outside the ephemeral range, and
    never handed out before in this run."""
    chosen: list[int] = []
    if count < 1:
        return chosen
    with _LOCK:
        for _ in range(200 * count):
            port = _RANDOM.choice(_PORTS)
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"no {count} free ports found in {_PORTS.start}-{_PORTS.stop - 1} "
                       f"({len(_HANDED_OUT)} handed out already in this run)")


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port that is free now, outside the ephemeral range, and not handed
    out before in this run (see `free_ports`)."""
    return free_ports(1, host)[0]


@contextlib.contextmanager
def fixed_ports_turn(timeout: float = 300) -> Iterator[None]:
    """Hold the machine-wide turn for a test that needs fixed ports (0.4's 6767...):
    the other backend's run, going at the same time, waits instead of finding them
    taken. A file lock, so the kernel releases it if this process dies."""
    import fcntl

    path = Path(tempfile.gettempdir()) / "brubeck-tests-fixed-ports.lock"
    with path.open("a") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} held for {timeout}s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def wait_for_http(url: str, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as answer:
            answer.close()  # it holds the connection
            return  # any HTTP answer means it is serving
        except OSError as error:
            last_error = error
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error}")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM by PID, then SIGKILL if it lingers.

    A process that `running` started leads its own process group: whatever it
    started in turn (a supervisor's Mongrel2 and workers) goes with it, even
    when the leader had to be killed before it could stop its children.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    if getattr(proc, "leads_group", False):
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is empty
            os.killpg(proc.pid, signal.SIGKILL)


def python_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextlib.contextmanager
def running(args: list[str], url: str | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 20.0) -> Iterator[subprocess.Popen]:
    """Run `args` (a Python module or script when args[0] is '-m' or a .py), wait, stop.

    Its output goes to a temporary file, never an unread pipe (a chatty process
    would block once the pipe filled); if the block fails, the output's tail is
    printed so pytest shows what the process said.
    """
    if args and (args[0] == "-m" or args[0].endswith(".py")):
        args = [sys.executable, *args]
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(args, env=env or python_env(), cwd=cwd or ROOT,
                                stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.leads_group = True  # type: ignore[attr-defined]  (read by `stop`)
        try:
            if url:
                wait_for_http(url, timeout, proc)
            yield proc
        except BaseException:
            stop(proc)
            output.seek(0)
            tail = output.read()[-4000:].decode("utf-8", "replace")
            print(f"--- output of {' '.join(map(str, args))} (exit {proc.returncode}):\n{tail}")
            raise
        finally:
            stop(proc)
