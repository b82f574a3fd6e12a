"""A worker process's side of supervision: its listening socket, its ready signal, its stop.

The supervisor (`brubeck.workers`) opens one listening socket and starts each
worker with it: `BRUBECK_LISTEN_FD=<fd>` names the inherited, bound and
listening socket (so every worker accepts from one queue, and a worker that
stops leaves its queued connections to the others, which SO_REUSEPORT would
reset). `BRUBECK_READY_FD=<fd>` names a pipe's write end: the worker writes
b"R" to it once it serves, then closes it. Both variables are removed once
read, so a process the app starts inherits neither.

SIGINT and SIGTERM mean the same thing to a worker (Ctrl-C reaches the whole
process group): stop taking work, finish what is in flight within
`shutdown_timeout`, answer the rest 503, exit 0. `Shutdown` records the
request; the transports drain and log through `going_down` and `drained`,
the one wording for all of them (docs/shutdown.rst).

Standard library only, in the backends' layer: the transports and the
supervisor both use it, and it imports no backend.
"""

from __future__ import annotations

import _socket
import gc
import logging
import os
import signal
import socket
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ..limits import LISTEN_BACKLOG

LISTEN_FD_ENV = "BRUBECK_LISTEN_FD"
READY_FD_ENV = "BRUBECK_READY_FD"
READY = b"R"
#: Seconds a draining worker waits for in-flight requests (`shutdown_timeout`).
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)

log = logging.getLogger("brubeck")

SocketFactory = Callable[..., Any]


class ListenError(OSError):
    """The address cannot be listened on (taken, not ours) or the inherited fd is unusable."""


def listen(host: str, port: int, make_socket: SocketFactory = socket.socket) -> Any:
    """The socket to serve from: the supervisor's (`BRUBECK_LISTEN_FD`), else one bound now.

    Bound with backlog `LISTEN_BACKLOG` and without SO_REUSEPORT, so a taken
    port fails here, as a `ListenError` naming it, before anything says online.
    `make_socket` is the backend's green socket class.
    """
    inherited = inherited_listener(make_socket)
    return inherited if inherited is not None else bind(host, port, make_socket)


def bind(host: str, port: int, make_socket: SocketFactory = socket.socket) -> Any:
    """A new listening socket on `host:port` (what the supervisor hands its workers)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as error:
        raise ListenError(f"cannot listen on {host}:{port}: {error}") from None
    sock = make_socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as error:
        sock.close()
        refused = ListenError(f"cannot listen on {host}:{port}: {error.strerror or error}")
        refused.errno = error.errno  # EADDRINUSE, EACCES...: for callers that tell them apart
        raise refused from None
    return sock


def inherited_listener(make_socket: SocketFactory = socket.socket) -> Any | None:
    """The listening socket named by `BRUBECK_LISTEN_FD`, or None when it is not set."""
    value = os.environ.pop(LISTEN_FD_ENV, None)
    if value is None:
        return None
    try:
        fd = int(value)
        # The C socket class (never monkey-patched) reads family and type from a
        # duplicate; closing the probe leaves `fd` open.
        probe = _socket.socket(fileno=os.dup(fd))
    except (ValueError, OSError) as error:
        raise ListenError(f"{LISTEN_FD_ENV}={value!r} is not an open socket: {error}") from None
    try:
        family, kind = probe.family, probe.type
        listening = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        probe.close()
    if kind != socket.SOCK_STREAM or not listening:
        raise ListenError(f"{LISTEN_FD_ENV}={fd} is not a listening TCP socket")
    os.set_inheritable(fd, False)  # the app's own child processes do not hold it
    listener = make_socket(family, kind, 0, fd)
    _shared.add(listener)
    return listener


def is_shared(listener: Any) -> bool:
    """Whether `listener` is the supervisor's, which its other workers accept from too.

    A server then takes a share of a burst per wake-up, leaving the rest to the
    others (`brubeck.servers.base.accept_share`).
    """
    return listener in _shared


_shared: weakref.WeakSet[Any] = weakref.WeakSet()  # not fds: a closed one's number is reused


def serving() -> None:
    """The server has started: set start-up's objects aside, and tell the supervisor.

    Modules, the app, its routes and templates live as long as the process, yet
    the collector kept walking them: `gc.freeze()` leaves them out (collection
    fell from 3.8% to 2.2% of a Mongrel2 worker's CPU under load, by perf). Once
    per process, so that garbage made between two in-process servers (tests)
    is not kept for good.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
    signal_ready()


_frozen = False


def signal_ready() -> None:
    """Tell the supervisor this worker serves (`BRUBECK_READY_FD`); once, and never fails."""
    value = os.environ.pop(READY_FD_ENV, None)
    if value is None:
        return
    try:
        fd = int(value)
    except ValueError:
        log.warning("ignored %s=%r: not a file descriptor", READY_FD_ENV, value)
        return
    try:
        os.write(fd, READY)
    except OSError as error:  # the supervisor is gone or closed its end: nothing to tell
        log.debug("could not signal readiness on fd %d: %s", fd, error)
    finally:
        with suppress(OSError):
            os.close(fd)


class Shutdown:
    """A request to stop, from SIGINT or SIGTERM (or `request()`), and how long to drain.

    A signal handler only records it; the serving loop notices within `poll`
    seconds (a handler cannot switch green threads, and under eventlet it runs
    inside the hub's poll), then calls `on_stop` (the app sets `draining`, so its
    readiness route answers 503). A second signal cuts the drain short.
    """

    poll = 0.1

    def __init__(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
                 on_stop: Callable[[], Any] | None = None) -> None:
        self.timeout = float(timeout)
        self.on_stop = on_stop
        self.reason: str | None = None
        self.urgent = False
        self.started = 0.0

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str = "shutdown") -> None:
        if self.reason is None:
            self.reason = reason
            self.started = time.monotonic()
        else:
            self.urgent = True

    def _on_signal(self, signum: int, frame: object) -> None:
        self.request(signal.Signals(signum).name)

    def wait(self, sleep: Callable[[float], Any]) -> str:
        """Sleep (green) until a stop is requested; return what asked for it."""
        while self.reason is None:
            sleep(self.poll)
        if self.on_stop is not None:
            self.on_stop()
        return self.reason

    def remaining(self) -> float:
        """Seconds left of the drain (0 once it is over or cut short)."""
        if self.urgent:
            return 0.0
        return max(0.0, self.started + self.timeout - time.monotonic())


@contextmanager
def shutdown_signals(timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
                     on_stop: Callable[[], Any] | None = None) -> Iterator[Shutdown]:
    """SIGINT and SIGTERM request a `Shutdown` while the block runs; the old handlers after.

    Outside the main thread no handler can be set: the block then runs
    without them (the process's own handlers stay).
    """
    shutdown = Shutdown(timeout, on_stop)
    previous: dict[int, Any] = {}
    try:
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, shutdown._on_signal)
    except ValueError:  # not the main thread
        pass
    try:
        yield shutdown
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def going_down(shutdown: Shutdown, in_flight: int) -> None:
    """The first line of every drain, whatever the transport."""
    log.info("Brubeck going down (%s): pid %d stops taking work, %d request(s) in flight, "
             "waiting up to %gs", shutdown.reason, os.getpid(), in_flight, shutdown.timeout)


def drained(shutdown: Shutdown, finished: int, refused: int) -> None:
    """The last line of every drain: what finished and what was answered 503."""
    took = time.monotonic() - shutdown.started if shutdown.started else 0.0
    if refused:
        log.warning("Brubeck stopped: pid %d drained %d request(s) in %.1fs; %d still running "
                    "answered 503", os.getpid(), finished, took, refused)
    else:
        log.info("Brubeck stopped: pid %d drained %d request(s) in %.1fs", os.getpid(),
                 finished, took)
