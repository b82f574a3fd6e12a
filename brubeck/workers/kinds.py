"""How workers are reached: over WSGI on one inherited socket, behind Mongrel2 directly, or
through the host's dispatcher.

The supervisor is the same for every kind; a kind says what a worker inherits
(environment, file descriptors), when it counts as ready, and what retiring or
losing it means. Workers are fresh `python -m brubeck serve` processes, told
their connection through the environment:

- `BRUBECK_CONNECTION`: the connection URL (`wsgi://`, `mongrel2://`, or
  `mongrel2+dispatcher://` which users never type).
- `BRUBECK_WORKER_ID`: `<slot>.<generation>`, the worker's dispatcher routing id.
- `BRUBECK_READY_FD`: a pipe's write end; the worker writes b"R" once it serves.
- `BRUBECK_LISTEN_FD`: WSGI only, the listening socket the supervisor opened once.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

from ..limits import LISTEN_BACKLOG
from ..mongrel2.config import MAX_IPC_PATH

if TYPE_CHECKING:
    from ..mongrel2.dispatcher import Dispatcher

log = logging.getLogger("brubeck.workers")

ENV_CONNECTION = "BRUBECK_CONNECTION"
ENV_WORKER_ID = "BRUBECK_WORKER_ID"
ENV_READY_FD = "BRUBECK_READY_FD"
ENV_LISTEN_FD = "BRUBECK_LISTEN_FD"
READY = b"R"


class Worker:
    """One worker process and what the supervisor knows of it."""

    def __init__(self, slot: int, generation: int, proc: subprocess.Popen[bytes],
                 ready_fd: int) -> None:
        self.slot = slot
        self.generation = generation
        self.proc = proc
        self.ready_fd: int | None = ready_fd  # the pipe's read end until it is read or closed
        self.started = time.monotonic()
        self.piped_ready = False  # wrote b"R" on its ready pipe
        self.ready_at: float | None = None  # counted up by the supervisor
        self.retired = False
        self.kill_at: float | None = None  # SIGKILL past this, once SIGTERMed
        self.killed = False  # SIGKILLed for not being ready in time

    @property
    def ident(self) -> str:
        """`<slot>.<generation>`, slots counted from 1 as the logs say them."""
        return f"{self.slot + 1}.{self.generation}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read_ready(self) -> None:
        """Read the ready pipe (it is readable): b"R", or EOF if the worker closed or died."""
        if self.ready_fd is None:
            return
        try:
            data = os.read(self.ready_fd, 16)
        except BlockingIOError:
            return
        if READY in data:
            self.piped_ready = True
        if not data or self.piped_ready:
            self.close_pipe()

    def close_pipe(self) -> None:
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None


class Kind(Protocol):
    """What differs between the ways workers are reached."""

    def start(self) -> None: ...
    def going_down(self) -> None: ...
    def stop(self, timeout: float) -> None: ...
    def env(self, ident: str) -> dict[str, str]: ...
    def pass_fds(self) -> tuple[int, ...]: ...
    def is_ready(self, worker: Worker) -> bool: ...
    def retire(self, worker: Worker) -> None: ...
    def lost(self, worker: Worker) -> int: ...
    def describe(self) -> str: ...


class WSGIWorkers:
    """N WSGI workers accepting on one listening socket, opened here once.

    One socket inherited by all (no SO_REUSEPORT): a retiring worker closes
    only its copy, so connections queued in the backlog wait for the others
    instead of being reset.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.sock: socket.socket | None = None

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise SystemExit(f"brubeck: cannot listen on {self.host}:{self.port}: "
                             f"{error.strerror or error}") from None
        sock.listen(LISTEN_BACKLOG)
        self.port = sock.getsockname()[1]
        self.sock = sock

    def going_down(self) -> None:
        """Close the supervisor's copy of the socket: once the draining workers have closed
        theirs, a new connection is refused at once instead of queueing until exit.
        (A rolling restart keeps it: the new workers inherit it.)"""
        self.stop(0.0)

    def stop(self, timeout: float) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def env(self, ident: str) -> dict[str, str]:
        assert self.sock is not None
        return {ENV_CONNECTION: f"wsgi://{self.host}:{self.port}",
                ENV_LISTEN_FD: str(self.sock.fileno())}

    def pass_fds(self) -> tuple[int, ...]:
        assert self.sock is not None
        return (self.sock.fileno(),)

    def is_ready(self, worker: Worker) -> bool:
        return worker.piped_ready

    def retire(self, worker: Worker) -> None:
        """SIGTERM alone retires it: it stops accepting and closes its copy of the socket."""

    def lost(self, worker: Worker) -> int:
        """Its connections die with it (the kernel resets them): nothing to answer here."""
        return 0

    def describe(self) -> str:
        return f"WSGI on http://{self.host}:{self.port}"


class DirectWorkers:
    """Mongrel2 workers that PULL from Mongrel2 themselves (`--no-dispatcher`).

    Requests a killed worker had taken are lost with it: only the dispatcher
    knows them (docs/deploy.rst).
    """

    def __init__(self, connection_url: str) -> None:
        self.connection_url = connection_url

    def start(self) -> None:
        pass

    def going_down(self) -> None:
        pass

    def stop(self, timeout: float) -> None:
        pass

    def env(self, ident: str) -> dict[str, str]:
        return {ENV_CONNECTION: self.connection_url}

    def pass_fds(self) -> tuple[int, ...]:
        return ()

    def is_ready(self, worker: Worker) -> bool:
        return worker.piped_ready

    def retire(self, worker: Worker) -> None:
        pass

    def lost(self, worker: Worker) -> int:
        return 0

    def describe(self) -> str:
        return f"Mongrel2 directly ({self.connection_url.partition('?')[0]})"


class RuntimeDir:
    """A 0700 directory for this supervisor's ipc sockets, removed on exit.

    Only this user can reach a socket in it, unlike tcp://127.0.0.1 which any
    local user can connect to and answer clients from.
    """

    def __init__(self, name: str = "workers.sock") -> None:
        base = os.environ.get("XDG_RUNTIME_DIR") or None
        if base is not None and not os.access(base, os.W_OK):
            base = None
        self.path = Path(tempfile.mkdtemp(prefix="brubeck-", dir=base))  # mode 0700
        socket_path = self.path / name
        if len(str(socket_path).encode()) > MAX_IPC_PATH:
            self.remove()
            raise SystemExit(f"brubeck: {socket_path} is longer than an ipc path may be "
                             f"({MAX_IPC_PATH} bytes): set TMPDIR to a shorter directory")
        self.address = f"ipc://{socket_path}"

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class DispatchedWorkers:
    """Mongrel2 workers behind this host's dispatcher (a thread of the supervisor).

    The dispatcher PULLs from Mongrel2 (local or remote) and hands each request
    to the least busy ready worker over a ROUTER bound on ipc in a 0700
    directory; it knows what every worker holds, so a dead worker's requests are
    answered (`lost`) and a retired one gets no new work.
    """

    def __init__(self, pull_addr: str, pub_addr: str, options: dict[str, str],
                 worker_addr: str | None = None) -> None:
        self.pull_addr = pull_addr
        self.pub_addr = pub_addr
        self.options = options
        self.runtime: RuntimeDir | None = None
        self.worker_addr = worker_addr
        self.dispatcher: Dispatcher | None = None

    def start(self) -> None:
        from ..mongrel2.dispatcher import Dispatcher

        if self.worker_addr is None:
            self.runtime = RuntimeDir()
            self.worker_addr = self.runtime.address
        self.dispatcher = Dispatcher(self.pull_addr, self.pub_addr, self.worker_addr)
        self.dispatcher.start()
        log.warning("dispatcher: PULL %s, PUB %s, workers at %s", self.pull_addr,
                    self.pub_addr, self.worker_addr)

    def going_down(self) -> None:
        """Nothing yet: the workers' BYEs stop new requests reaching them, and `stop`
        answers what the dispatcher still holds or queues."""

    def stop(self, timeout: float) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop(timeout)
            self.dispatcher = None
        if self.runtime is not None:
            self.runtime.remove()
            self.runtime = None

    def env(self, ident: str) -> dict[str, str]:
        query = f"?{urlencode(self.options)}" if self.options else ""
        return {ENV_CONNECTION: f"mongrel2+dispatcher://{self.worker_addr}{query}",
                ENV_WORKER_ID: ident}

    def pass_fds(self) -> tuple[int, ...]:
        return ()

    def is_ready(self, worker: Worker) -> bool:
        assert self.dispatcher is not None
        return bool(self.dispatcher.wait_ready(worker.ident.encode(), 0.0))

    def retire(self, worker: Worker) -> None:
        assert self.dispatcher is not None
        self.dispatcher.retire(worker.ident.encode())

    def lost(self, worker: Worker) -> int:
        assert self.dispatcher is not None
        return int(self.dispatcher.lost(worker.ident.encode()))

    def describe(self) -> str:
        return f"Mongrel2 through the dispatcher ({self.pull_addr}, {self.pub_addr})"
