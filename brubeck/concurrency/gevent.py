"""The gevent backend. Importing this module patches nothing; `install()` does."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
import gevent.monkey
import gevent.pool
import gevent.queue
import gevent.socket
import greenlet

from . import process

if TYPE_CHECKING:
    from ..limits import Limits
    from .process import Shutdown

name = "gevent"

spawn = gevent.spawn
sleep = gevent.sleep
Event = gevent.event.Event
Queue = gevent.queue.Queue
Timeout = gevent.Timeout
Pool = gevent.pool.Pool
current = greenlet.getcurrent


def call_later(seconds: float, fn: Callable[[], Any]) -> None:
    """Run `fn` in the event loop itself after `seconds` (not in a green thread: it must
    not block; it may throw into a parked green thread, as a Timeout does)."""
    timer = gevent.get_hub().loop.timer(seconds, ref=False)
    timer.start(_fire, timer, fn)


def _fire(timer: Any, fn: Callable[[], Any]) -> None:
    timer.close()
    fn()


def install() -> None:
    """Monkey-patch the stdlib once; a process gunicorn already patched is left alone.

    Greenlets stop recording who spawned them and from where (gevent's debugging
    reports use it), unless `GEVENT_TRACK_GREENLET_TREE` says otherwise: the
    stack walk was half the cost of a spawn, and a server spawns one green
    thread per connection (a Mongrel2 worker with an app `pool`, per request).
    """
    if not gevent.monkey.is_module_patched("socket"):
        gevent.monkey.patch_all()
    if "GEVENT_TRACK_GREENLET_TREE" not in os.environ:
        gevent.config.track_greenlet_tree = False


def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking C or CPU work in the hub's native thread pool; the loop stays free."""
    return gevent.get_hub().threadpool.apply(fn, args)


if TYPE_CHECKING:  # loaded lazily by __getattr__ below; typed for the Backend Protocol
    from types import ModuleType

    zmq: ModuleType


def __getattr__(attr: str) -> Any:
    if attr == "zmq":  # imported on first use: WSGI-only apps need no pyzmq
        import zmq.green

        return zmq.green
    raise AttributeError(attr)


def listen(host: str, port: int) -> Any:
    """A green listening socket: the supervisor's, else bound now (`process.listen`)."""
    return process.listen(host, port, gevent.socket.socket)


def serve_wsgi(
    app: Callable[..., Any], host: str = "127.0.0.1", port: int = 6767, sock: Any = None,
    limits: Limits | None = None, shutdown: Shutdown | None = None,
) -> None:
    """Serve `app` with Brubeck's hardened server on gevent.pywsgi (`brubeck.servers.gevent`).

    Loaded by import string: the server is a transport, a layer above this backend.
    """
    server = importlib.import_module("brubeck.servers.gevent")
    server.serve(app, host, port, sock=sock, limits=limits, shutdown=shutdown)
