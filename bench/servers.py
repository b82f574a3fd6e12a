"""What gets benchmarked: each server as a process (or a few), and its rows.

A `Server` knows how to start itself on a free loopback port and which paths
(scenarios) it answers. Brubeck servers name the baseline their figures are
divided by, so every ratio compares two processes measured in the same round.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BRUBECK_APP = "bench/apps/brubeck_app.py:app"


#: Ports handed out in this run. The kernel's bind(0) draws at random and may
#: repeat a port just released, so a probe alone could give two servers (or a
#: Mongrel2 config's HTTP, PULL and PUB) the same one.
_HANDED_OUT: set[int] = set()


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports, free now and never handed out before in this run
    (each probe stays bound until all are chosen)."""
    chosen: list[int] = []
    with contextlib.ExitStack() as held:
        for _ in range(100 * count):
            if len(chosen) == count:
                break
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in _HANDED_OUT:
                chosen.append(port)
    if len(chosen) < count:
        raise RuntimeError(f"no {count} unused loopback ports found")
    _HANDED_OUT.update(chosen)
    return chosen


def free_port() -> int:
    """A loopback port, free now and never handed out before in this run."""
    return free_ports(1)[0]


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("BRUBECK_CONNECTION", None)
    env.pop("BRUBECK_CONCURRENCY", None)
    return env


def wait_until_serving(url: str, procs: list[subprocess.Popen], timeout: float = 20.0,
                       need_ok: bool = False) -> None:
    """Poll `url` until any HTTP answer (a 200 with `need_ok`); fail early if a process died.

    Behind Mongrel2 a 404/502 only means Mongrel2 is up, not its handlers.
    """
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as error:
            if not need_ok:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} answers {error.code} after {timeout}s") from None
            time.sleep(0.1)
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not serving after {timeout}s: {error}") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM by PID, SIGKILL if it lingers: only processes the harness started."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


@dataclass
class Server:
    name: str                      # unique key, e.g. "brubeck-gevent-wsgi"
    label: str                     # what the table shows
    command: Callable[[int], list[str]] | None = None
    paths: dict[str, str] = field(default_factory=lambda: {"hello": "/"})
    baseline: str | None = None    # server name whose "hello" row divides ours
    requires: tuple[str, ...] = ()  # importable modules / executables needed
    launch: Callable[[int, Path], contextlib.AbstractContextManager] | None = None

    @property
    def is_brubeck(self) -> bool:
        return self.baseline is not None

    def missing(self) -> list[str]:
        """Modules or programs this server needs that are not here."""
        gone = []
        for need in self.requires:
            if need.startswith("bin:"):
                if not any(Path(d, need[4:]).exists() for d in os.environ["PATH"].split(":")):
                    gone.append(need[4:])
            elif importlib.util.find_spec(need) is None:
                gone.append(need)
        return gone

    @contextlib.contextmanager
    def running(self, workdir: Path, log: Path) -> Iterator[tuple[str, list[int]]]:
        """Start the server, wait until it answers, yield its base URL and PIDs, stop it."""
        port = free_port()
        if self.launch is not None:
            with self.launch(port, workdir) as procs:
                wait_until_serving(self.url(port, next(iter(self.paths))), procs, need_ok=True)
                yield f"http://127.0.0.1:{port}", [p.pid for p in procs]
            return
        assert self.command is not None
        with open(log, "ab") as out:
            proc = subprocess.Popen(self.command(port), cwd=ROOT, env=python_env(),
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.url(port, next(iter(self.paths))), [proc])
            yield f"http://127.0.0.1:{port}", [proc.pid]
        finally:
            stop(proc)

    def url(self, port: int, scenario: str) -> str:
        return f"http://127.0.0.1:{port}{self.paths[scenario]}"


def _module(name: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-m", name, str(port)]


def _brubeck_wsgi(backend: str, workers: int = 1) -> Callable[[int], list[str]]:
    """`brubeck serve --port`; with workers > 1 the supervisor's one shared socket."""
    more = ["--workers", str(workers)] if workers > 1 else []
    return lambda port: [sys.executable, "-m", "brubeck", "serve", BRUBECK_APP,
                         "--port", str(port), "--concurrency", backend, *more]


BRUBECK_PATHS = {"hello": "/hello", "function": "/fn", "json": "/json", "jinja2": "/page",
                 "render": "/render"}


def wsgi_servers() -> list[Server]:
    return [
        Server("raw-gevent", "raw gevent.pywsgi", _module("bench.apps.raw_gevent"),
               requires=("gevent",)),
        Server("raw-eventlet", "raw eventlet.wsgi", _module("bench.apps.raw_eventlet"),
               requires=("eventlet",)),
        Server("tornado", "Tornado 6", _module("bench.apps.tornado_hello"),
               requires=("tornado",)),
        Server("falcon-gevent", "Falcon on gevent.pywsgi", _module("bench.apps.falcon_gevent"),
               requires=("falcon", "gevent")),
        Server("brubeck-gevent-wsgi", "Brubeck gevent WSGI", _brubeck_wsgi("gevent"),
               dict(BRUBECK_PATHS), baseline="raw-gevent", requires=("gevent",)),
        Server("brubeck-eventlet-wsgi", "Brubeck eventlet WSGI", _brubeck_wsgi("eventlet"),
               dict(BRUBECK_PATHS), baseline="raw-eventlet", requires=("eventlet",)),
        # Two worker processes on the supervisor's one listening socket (CPU counted
        # over the whole tree); the ratio is against the same one-process baseline.
        Server("brubeck-gevent-wsgi-2", "Brubeck gevent WSGI ×2", _brubeck_wsgi("gevent", 2),
               dict(BRUBECK_PATHS), baseline="raw-gevent", requires=("gevent",)),
        Server("brubeck-eventlet-wsgi-2", "Brubeck eventlet WSGI ×2",
               _brubeck_wsgi("eventlet", 2), dict(BRUBECK_PATHS), baseline="raw-eventlet",
               requires=("eventlet",)),
    ]


def all_servers() -> list[Server]:
    """Every server the harness knows: WSGI first, then the Mongrel2 ones."""
    from bench import mongrel2_servers

    return wsgi_servers() + mongrel2_servers.servers()
