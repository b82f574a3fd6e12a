"""Servers behind a real Mongrel2: two raw anchors and Brubeck with 1 and 2 workers.

Each gets its own chroot and config on free loopback ports (written with
Brubeck's own config generator), Mongrel2 in the foreground, and its handler
processes; all are stopped by PID. Brubeck is run the way users run it:
`python -m brubeck serve APP --mongrel2 --workers N`, whose supervisor stops
its workers and Mongrel2 when told to. The `brubeck-m2-dispatch-*` rows put
the dispatcher (brubeck.mongrel2.dispatcher) between Mongrel2 and the workers:
a thread of `bench.apps.m2_dispatch`, whose CPU counts with its workers'.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.servers import BRUBECK_APP, BRUBECK_PATHS, ROOT, Server, free_ports, python_env, stop

NEEDS = ("zmq", "bin:mongrel2", "bin:m2sh")


def _config(chroot: Path, port: int):
    from brubeck.mongrel2.config import Mongrel2Config

    pull, pub = free_ports(2)  # distinct from each other and from `port`
    config = Mongrel2Config(chroot=chroot, port=port, pull_addr=f"tcp://127.0.0.1:{pull}",
                            pub_addr=f"tcp://127.0.0.1:{pub}")
    config.write()
    return config


def _anchor(module: str, processes: int = 1):
    """Mongrel2 plus `processes` copies of a `bench.apps` handler, each PULLing from it."""
    @contextlib.contextmanager
    def launch(port: int, workdir: Path) -> Iterator[list[subprocess.Popen]]:
        from brubeck.mongrel2 import config as mongrel2_config

        chroot = workdir / f"{module}-{port}"
        config = _config(chroot, port)
        mongrel2_config.load(chroot)
        log = open(workdir / f"{module}.log", "ab")
        procs = [subprocess.Popen(mongrel2_config.command(chroot, config.server_uuid),
                                  cwd=chroot, stdout=log, stderr=subprocess.STDOUT)]
        try:
            procs += [subprocess.Popen(
                [sys.executable, "-m", f"bench.apps.{module}", config.pull_addr,
                 config.pub_addr], cwd=ROOT, env=python_env(), stdout=log,
                stderr=subprocess.STDOUT) for _ in range(processes)]
            yield procs
        finally:
            for proc in reversed(procs):
                stop(proc)
            log.close()
    return launch


def _brubeck(backend: str, workers: int):
    """`brubeck serve --mongrel2 --workers N --no-dispatcher` over a config on free ports."""
    @contextlib.contextmanager
    def launch(port: int, workdir: Path) -> Iterator[list[subprocess.Popen]]:
        chroot = workdir / f"brubeck-{backend}-{workers}-{port}"
        _config(chroot, port)
        log = open(workdir / f"brubeck-{backend}-m2-{workers}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "brubeck", "serve", BRUBECK_APP, "--mongrel2",
             "--workers", str(workers), "--mongrel2-dir", str(chroot),
             "--concurrency", backend, "--no-dispatcher"],  # the direct path
            cwd=ROOT, env=python_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            yield [proc]
        finally:
            stop(proc, timeout=45)  # the supervisor drains its workers, then stops mongrel2
            log.close()
    return launch


def _dispatched(backend: str, workers: int):
    """Mongrel2, then a dispatcher thread in `bench.apps.m2_dispatch` with N worker children."""
    @contextlib.contextmanager
    def launch(port: int, workdir: Path) -> Iterator[list[subprocess.Popen]]:
        import tempfile

        from brubeck.mongrel2 import config as mongrel2_config

        chroot = workdir / f"dispatch-{backend}-{workers}-{port}"
        config = _config(chroot, port)
        mongrel2_config.load(chroot)
        private = Path(tempfile.mkdtemp(prefix="brubeck-"))  # 0700; sun_path <= 107 bytes
        log = open(workdir / f"brubeck-m2-dispatch-{backend}-{workers}.log", "ab")
        procs = [subprocess.Popen(mongrel2_config.command(chroot, config.server_uuid),
                                  cwd=chroot, stdout=log, stderr=subprocess.STDOUT)]
        try:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bench.apps.m2_dispatch", config.pull_addr,
                 config.pub_addr, f"ipc://{private}/workers.sock", str(workers), backend],
                cwd=ROOT, env=python_env(), stdout=log, stderr=subprocess.STDOUT))
            yield procs
        finally:
            for proc in reversed(procs):
                stop(proc, timeout=45)
            log.close()
            for leftover in private.iterdir():
                leftover.unlink()
            private.rmdir()
    return launch


def servers() -> list[Server]:
    found = [
        Server("m2-raw-pyzmq", "Mongrel2 + raw pyzmq", launch=_anchor("m2_raw_pyzmq"),
               requires=NEEDS),
        Server("m2-zmq-green", "Mongrel2 + zmq.green greenlets", launch=_anchor("m2_green"),
               requires=(*NEEDS, "gevent")),
        # The control for Brubeck's two direct workers: two hand-written handlers
        # on the same round robin, so a tail beyond theirs is Brubeck's own.
        Server("m2-zmq-green-2", "Mongrel2 + zmq.green greenlets ×2",
               launch=_anchor("m2_green", processes=2), requires=(*NEEDS, "gevent")),
    ]
    for backend in ("gevent", "eventlet"):
        for workers in (1, 2):
            found.append(Server(
                f"brubeck-{backend}-m2-{workers}",
                f"Brubeck {backend} Mongrel2 ×{workers}", launch=_brubeck(backend, workers),
                paths=dict(BRUBECK_PATHS), baseline="m2-zmq-green",
                requires=(*NEEDS, backend)))
    for backend in ("gevent", "eventlet"):
        for workers in (1, 2):
            found.append(Server(
                f"brubeck-m2-dispatch-{backend}" + ("" if workers == 1 else f"-{workers}"),
                f"Brubeck {backend} Mongrel2 + dispatcher ×{workers}",
                launch=_dispatched(backend, workers), paths=dict(BRUBECK_PATHS),
                baseline="m2-zmq-green", requires=(*NEEDS, backend)))
    return found
