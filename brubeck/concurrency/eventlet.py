"""The eventlet backend (eventlet is in maintenance mode; gevent is the default)."""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

with warnings.catch_warnings():  # its multi-line deprecation banner; we log one line
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    import eventlet
    import eventlet.event
    import eventlet.green.socket
    import eventlet.hubs
    import eventlet.patcher
    import eventlet.queue
    import eventlet.tpool
    import greenlet

from . import process

if TYPE_CHECKING:
    from ..limits import Limits
    from .process import Shutdown

name = "eventlet"

spawn = eventlet.spawn
sleep = eventlet.sleep
Queue = eventlet.queue.Queue
Timeout = eventlet.Timeout
current = greenlet.getcurrent


def call_later(seconds: float, fn: Callable[[], Any]) -> None:
    """Run `fn` in the event loop itself after `seconds` (not in a green thread: it must
    not block; it may throw into a parked green thread, as a Timeout does)."""
    eventlet.hubs.get_hub().schedule_call_global(seconds, fn)


class Pool(eventlet.GreenPool):
    """A GreenPool with gevent's `join()` spelling, so callers need not branch."""

    def join(self, timeout: float | None = None) -> bool:
        with eventlet.Timeout(timeout, False):
            self.waitall()
            return True
        return False


class Event:
    """A resettable event with gevent's interface (eventlet's Event fires once)."""

    def __init__(self) -> None:
        self._flag = False
        self._event = eventlet.event.Event()

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        if not self._event.ready():
            self._event.send(True)

    def clear(self) -> None:
        if self._flag:
            self._flag = False
            self._event = eventlet.event.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        event = self._event
        with eventlet.Timeout(timeout, False):
            event.wait()
        return self._flag


def install() -> None:
    """Monkey-patch the stdlib once; a process already patched by eventlet is left alone.

    Patching late is safe: eventlet then walks every loaded module's objects to
    green the RLocks made before it, and stops at an object whose attributes
    raise something else than TypeError (a pydantic model class's validator
    placeholder raises PydanticUserError), printing a traceback and leaving the
    rest of that module unwalked. During the walk, such an object is skipped
    like one without attributes.
    """
    if not eventlet.patcher.is_monkey_patched("socket"):
        eventlet.patcher.vars = _vars_or_type_error  # shadows the builtin in the walk only
        try:
            eventlet.monkey_patch()
        finally:
            del eventlet.patcher.vars
    logging.getLogger("brubeck").info(
        "eventlet is in maintenance mode upstream; gevent is Brubeck's default")


def _vars_or_type_error(value: object) -> dict[str, Any]:
    try:
        return vars(value)
    except Exception as error:
        raise TypeError(f"no attributes to walk: {error}") from None


def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking C or CPU work in eventlet's native thread pool; the hub stays free."""
    return eventlet.tpool.execute(fn, *args)


if TYPE_CHECKING:  # loaded lazily by __getattr__ below; typed for the Backend Protocol
    from types import ModuleType

    zmq: ModuleType


def __getattr__(attr: str) -> Any:
    if attr == "zmq":  # imported on first use: WSGI-only apps need no pyzmq
        from eventlet.green import zmq

        return zmq
    raise AttributeError(attr)


def listen(host: str, port: int) -> Any:
    """A green listening socket: the supervisor's, else bound now (`process.listen`)."""
    return process.listen(host, port, eventlet.green.socket.socket)


def serve_wsgi(
    app: Callable[..., Any], host: str = "127.0.0.1", port: int = 6767, sock: Any = None,
    limits: Limits | None = None, shutdown: Shutdown | None = None,
) -> None:
    """Serve `app` with Brubeck's hardened server on eventlet.wsgi (`brubeck.servers.eventlet`).

    Loaded by import string: the server is a transport, a layer above this backend.
    """
    server = importlib.import_module("brubeck.servers.eventlet")
    server.serve(app, host, port, sock=sock, limits=limits, shutdown=shutdown)
