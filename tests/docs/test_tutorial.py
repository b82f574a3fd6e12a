"""docs/tutorial.rst runs as written (issue 19, item 7).

Every code block of the tutorial is taken in order: blocks captioned with a
file name write (``app.py`` grows block by block) or run (``try_*.py``) that
file in a scratch folder; console blocks run their ``$`` commands in a shell
(a server in the background, stopped by PID at the end) and compare their
output with the lines shown. The tutorial's ports (8000, 6767, 6379) become
free ones. The app is served over WSGI (`brubeck serve`) and behind a real
Mongrel2 with 2 workers sharing news through a real redis-server; the
tutorial's own scripts drive them. The finished files must be examples/notes/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_ports, python_env, stop

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.rst"
EXAMPLE = ROOT / "examples" / "notes"
PORTS = (8000, 6767, 6379)  # WSGI, Mongrel2's HTTP, Redis
BACKGROUND = ("brubeck serve", "redis-server")


@dataclass
class Block:
    language: str
    caption: str | None
    text: str
    line: int


def blocks() -> list[Block]:
    """Every ``.. code-block::`` of the page, with its caption and dedented text."""
    found = []
    lines = TUTORIAL.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"\.\. code-block:: (\S+)", lines[index])
        index += 1
        if not match:
            continue
        start, caption = index, None
        while index < len(lines) and lines[index].strip().startswith(":"):
            option = re.match(r"\s+:caption: (.+)", lines[index])
            caption = option.group(1).strip() if option else caption
            index += 1
        body = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith("   ")):
            body.append(lines[index][3:])
            index += 1
        found.append(Block(match.group(1), caption, "\n".join(body).strip("\n") + "\n", start))
    return found


def assembled() -> dict[str, str]:
    """The files the tutorial writes: blocks with one caption joined in order."""
    files: dict[str, list[str]] = {}
    for block in blocks():
        if block.caption and not block.caption.startswith("try_"):
            files.setdefault(block.caption, []).append(block.text)
    return {name: "\n\n".join(parts) for name, parts in files.items()}


def test_tutorial_every_block_is_run_by_this_test():
    for block in blocks():
        assert block.language == "console" or block.caption, \
            f"docs/tutorial.rst line {block.line}: a block this test would not run"


def test_tutorial_app_is_examples_notes():
    """examples/notes/ is what the tutorial builds, byte for byte."""
    files = assembled()
    on_disk = {str(path.relative_to(EXAMPLE)): path.read_text()
               for path in EXAMPLE.rglob("*") if path.is_file() and "__pycache__" not in
               path.parts and path.suffix in (".py", ".html")}
    assert on_disk == files, "regenerate: python3 -m tests.docs.test_tutorial"


class Session:
    """The tutorial's reader: one scratch folder, one environment, their servers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
        self.env = python_env(PYTHONUNBUFFERED="1")
        self.env.pop("BRUBECK_CONNECTION", None)
        self.env.pop("BRUBECK_PUBSUB_URL", None)
        self.written: dict[str, list[str]] = {}
        self.servers: list[tuple[subprocess.Popen, object]] = []

    def local(self, text: str) -> str:
        for theirs, ours in self.ports.items():
            text = re.sub(rf"\b{theirs}\b", str(ours), text)
        return text

    def run(self, block: Block) -> None:
        if block.language == "console":
            self.console(block)
        elif block.caption.startswith("try_"):
            self.script(block)
        else:
            parts = self.written.setdefault(block.caption, [])
            parts.append(block.text)
            path = self.folder / block.caption
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n\n".join(parts))

    def script(self, block: Block) -> None:
        path = self.folder / block.caption
        path.write_text(self.local(block.text))
        done = subprocess.run([sys.executable, path.name], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (f"{block.caption} (docs/tutorial.rst line {block.line}) "
                                      f"failed:\n{done.stdout}\n{done.stderr}\n{self.logs()}")
        assert not done.stdout.strip(), f"{block.caption} printed:\n{done.stdout}"

    def console(self, block: Block) -> None:
        commands: list[tuple[str, list[str]]] = []
        for line in self.local(block.text).splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            else:
                commands[-1][1].append(line)
        for command, expected in commands:
            if command.startswith("export "):
                name = command.split()[1].split("=", 1)[0]
                done = subprocess.run(["bash", "-c", f'{command}; printf %s "${name}"'],
                                      env=self.env, capture_output=True, text=True, check=True)
                self.env[name] = done.stdout
            elif command.startswith(BACKGROUND):
                self.background(command)
            else:
                done = subprocess.run(["bash", "-c", command], cwd=self.folder, env=self.env,
                                      capture_output=True, text=True, timeout=60)
                assert done.returncode == 0, f"$ {command}\n{done.stdout}{done.stderr}"
                if expected:
                    assert done.stdout.splitlines() == expected, f"$ {command}"

    def background(self, command: str) -> None:
        log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close(), after the server)
        proc = subprocess.Popen(shlex.split(command), cwd=self.folder, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc.leads_group = True  # stop() ends its workers and Mongrel2 with it
        self.servers.append((proc, log))
        if command.startswith("redis-server"):
            wait_tcp(self.ports[6379], proc)
        elif "--mongrel2" in command:
            wait_page(f"http://127.0.0.1:{self.ports[6767]}/login", proc, self.logs)
            # As a reader would (by the time the next block is typed): every worker up,
            # not only the first, or all polls go to the one that is.
            workers = int(re.search(r"--workers (\d+)", command).group(1))
            wait_ready(log, workers, proc, self.logs)
        else:
            port = re.search(r"--port (\d+)", command).group(1)
            wait_page(f"http://127.0.0.1:{port}/login", proc, self.logs)

    def logs(self) -> str:
        out = []
        for proc, log in self.servers:
            log.seek(0)
            out.append(f"--- {' '.join(proc.args)}:\n"
                       + log.read()[-3000:].decode("utf-8", "replace"))
        return "\n".join(out)

    def close(self) -> None:
        for proc, log in reversed(self.servers):
            stop(proc, timeout=20)
            log.close()


def wait_page(url: str, proc: subprocess.Popen, logs, timeout: float = 60.0) -> None:
    """Until `url` answers 200 (behind Mongrel2: once a worker is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}\n{logs()}"
        with contextlib.suppress(OSError, urllib.error.HTTPError), \
                urllib.request.urlopen(url, timeout=2) as reply:
            if reply.status == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200\n{logs()}")


def wait_ready(log, workers: int, proc: subprocess.Popen, logs, timeout: float = 60.0) -> None:
    """Until the supervisor has logged `workers` workers ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}\n{logs()}"
        # pread: the server writes through this very file offset; leave it alone.
        text = os.pread(log.fileno(), os.fstat(log.fileno()).st_size, 0)
        if text.count(b" ready (pid ") >= workers:
            return
        time.sleep(0.1)
    raise AssertionError(f"not {workers} workers ready in {timeout} s\n{logs()}")


def wait_tcp(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_tutorial_runs_as_written_over_wsgi_and_behind_mongrel2_with_2_workers(tmp_path):
    session = Session(tmp_path)
    try:
        for block in blocks():
            session.run(block)
        assert [line for line in session.logs().splitlines() if "Traceback" in line] == []
    finally:
        session.close()


if __name__ == "__main__":  # regenerate examples/notes/ from the tutorial
    for name, text in assembled().items():
        target = EXAMPLE / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print("wrote", target.relative_to(ROOT))
