"""Serve an app file as a user would (`brubeck serve`), over WSGI or behind a real Mongrel2.

`serve(target, transport, tmp_path, **env)` runs `python -m brubeck serve TARGET`
in its own process (this run's backend, the checkout on the path), waits until
it answers and yields a `Served`: its base URL, its process and its output, a
file the test can read (access log lines, warnings). Stopped by PID.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from brubeck import concurrency
from tests.support.mongrel2 import mongrel2_server
from tests.support.processes import ROOT, free_port, python_env, stop

HERE = Path(__file__).parent
APP = f"{HERE / 'app.py'}:app"
TRANSPORTS = ["wsgi", "mongrel2"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    output_path: Path
    mongrel2: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None, timeout: float = 10.0) -> Reply:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            data = reply.read()
            return Reply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})

    def wait_for_output(self, text: str, timeout: float = 10.0) -> str:
        """The output once it holds `text` (a log line is written after the reply)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.output()
            if text in found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the server's output:\n{found[-3000:]}")
            time.sleep(0.05)


def _wait_answering(url: str, proc: subprocess.Popen[bytes], output: Path,
                    timeout: float = 20.0) -> None:
    """Until the app itself answers (its 404 for /__up__): through Mongrel2 that also
    means the worker's replies arrive (PUB slow joiner)."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n"
                               f"{output.read_text(errors='replace')[-3000:]}")
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=0.5)
        try:
            conn.request("GET", "/__up__")
            if conn.getresponse().status == 404:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s:\n"
                       f"{output.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def serve(tmp_path: Path, transport: str = "wsgi", target: str = APP,
          args: tuple[str, ...] = (), m2_options: dict[str, Any] | None = None,
          port: int | None = None, workers: int = 1, **env: str) -> Iterator[Served]:
    """`brubeck serve target` over `transport`; `env` adds to the process environment.
    Behind Mongrel2, `workers` worker processes share its handler sockets."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    output = tmp_path / f"server-{transport}-{time.monotonic_ns()}.log"
    base_env = python_env(BRUBECK_CONCURRENCY=concurrency.active().name, **env)
    command = [sys.executable, "-m", "brubeck", "serve", target, *args]
    with contextlib.ExitStack() as stack:
        m2 = None
        if transport == "wsgi":
            port = port or free_port()
            command += ["--port", str(port)]
            url = f"http://127.0.0.1:{port}"
        else:
            m2 = stack.enter_context(mongrel2_server(tmp_path / "m2", **(m2_options or {})))
            base_env["BRUBECK_CONNECTION"] = m2.connection_url
            url = m2.url
        log_file = stack.enter_context(output.open("wb"))
        procs = []
        for _ in range(workers if m2 is not None else 1):
            proc = subprocess.Popen(command, env=base_env, cwd=ROOT, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            proc.leads_group = True  # type: ignore[attr-defined]  (read by `stop`)
            stack.callback(stop, proc)
            procs.append(proc)
        for proc in procs:
            _wait_answering(url, proc, output)
        yield Served(url, procs[0], output, m2, {"procs": procs})
