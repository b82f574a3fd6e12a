"""The real mongrel2 binary for tests: free loopback ports, a temp chroot, stop by PID."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brubeck.mongrel2 import config as mongrel2_config
from brubeck.mongrel2.config import Mongrel2Config
from tests.support.processes import free_port, free_ports, stop  # noqa: F401  (free_port: as before)

PING = "ping.txt"


@dataclass
class Mongrel2Server:
    config: Mongrel2Config
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def connection_url(self) -> str:
        return self.config.connection_url()

    def log(self) -> str:
        path = self.config.chroot / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def free_config(chroot: Path, **options: Any) -> Mongrel2Config:
    """A config on free loopback ports (HTTP, PULL, PUB), distinct from each other and
    from any port handed out before in this run; ports given in `options` are kept."""
    missing = [key for key in ("port", "pull_addr", "pub_addr") if key not in options]
    for key, port in zip(missing, free_ports(len(missing)), strict=True):
        options[key] = port if key == "port" else f"tcp://127.0.0.1:{port}"
    return Mongrel2Config(chroot=chroot, **options)


def wait_static(url: str, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mongrel2 exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/static/{PING}", timeout=2) as reply:
                if reply.status == 200:
                    return
        except urllib.error.HTTPError as answer:  # not yet: the handler's 404, say
            answer.close()  # it holds the connection
            time.sleep(0.05)
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"mongrel2 did not serve {url} within {timeout}s")


@contextlib.contextmanager
def mongrel2_server(chroot: Path, config: Mongrel2Config | None = None,
                    **options: Any) -> Iterator[Mongrel2Server]:
    """Write, load and start mongrel2 in the foreground; stop it by PID afterwards."""
    config = config or free_config(chroot, **options)
    config.write()
    (config.chroot / "static" / PING).write_text("pong")
    mongrel2_config.load(config.chroot)
    proc = subprocess.Popen(mongrel2_config.command(config.chroot, config.server_uuid),
                            cwd=config.chroot, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    server = Mongrel2Server(config, proc)
    try:
        wait_static(server.url, proc)
        yield server
    finally:
        stop(proc)


class Mongrel2Target:
    """What an in-process Mongrel2Connection serves: whichever app a test chose."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def wait_until_replies_arrive(url: str, timeout: float = 15.0) -> None:
    """PUB slow joiner: replies sent before Mongrel2's SUB sees us are lost; retry
    short requests until one comes back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/__ready__", timeout=0.5) as reply:
                reply.read()
                return
        except urllib.error.HTTPError as answer:
            answer.close()  # it holds the connection
            return  # any answer from the handler will do (404 here)
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"no reply through mongrel2 at {url} within {timeout}s")
