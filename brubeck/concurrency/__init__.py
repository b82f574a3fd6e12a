"""Choose and install one concurrency backend: gevent or eventlet.

The choice, in order: `BRUBECK_CONCURRENCY`, the app's `concurrency` config,
a backend that has already monkey-patched this process (gunicorn's gevent
worker, say), else the first installed of gevent, eventlet. Installing the
backend is the only place where monkey patching happens, and it happens once.

Every backend module offers the same small contract, the `Backend` Protocol
below (mypy checks both modules against it). To add a backend: write a module
that satisfies it and add its import path to `BACKENDS`, the one place to register.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from ..limits import Limits

BACKENDS = {
    "gevent": "brubeck.concurrency.gevent",
    "eventlet": "brubeck.concurrency.eventlet",
}
ENV_VAR = "BRUBECK_CONCURRENCY"



class GreenEvent(Protocol):
    """A resettable flag green threads wait on (gevent's interface; eventlet's is adapted)."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool | None: ...


class Backend(Protocol):
    """What a concurrency backend module provides; `app.backend` is one.

    `zmq` is the backend's green pyzmq module, imported on first use (WSGI-only apps
    need no pyzmq). `run_in_thread` runs blocking C or CPU work in a native thread
    without blocking the loop (a stdlib pool would, once patched). `serve_wsgi`
    serves a WSGI app with Brubeck's hardened server for this backend.
    """

    @property
    def name(self) -> str: ...
    @property
    def Event(self) -> Callable[[], GreenEvent]: ...  # noqa: N802 (the modules' names)
    @property
    def Queue(self) -> Callable[..., Any]: ...  # noqa: N802
    @property
    def Pool(self) -> Callable[..., Any]: ...  # noqa: N802
    @property
    def Timeout(self) -> type[Any]: ...  # noqa: N802 (a BaseException; `with Timeout(s):`)
    @property
    def zmq(self) -> ModuleType: ...

    def install(self) -> None: ...
    def spawn(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
    def sleep(self, seconds: float = 0, /) -> None: ...
    def run_in_thread(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...
    def serve_wsgi(self, app: Callable[..., Any], host: str = ..., port: int = ...,
                   sock: Any = ..., limits: Limits | None = ...) -> None: ...


_active: Backend | None = None


class BackendError(RuntimeError):
    """The requested backend is unknown, missing, or clashes with what is patched."""


def patched_by() -> str | None:
    """Which backend (if any) has already monkey-patched the socket module."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("socket"):
        return "eventlet"
    return None


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def choose(configured: str | None = None) -> str:
    """The backend name that `select` would install, without installing it."""
    requested = os.environ.get(ENV_VAR) or configured
    already = patched_by()
    if requested:
        requested = requested.strip().lower()
        if requested not in BACKENDS:
            raise BackendError(
                f"unknown concurrency backend {requested!r}; choose one of {sorted(BACKENDS)}"
            )
        if already and already != requested:
            raise BackendError(
                f"{already} has already monkey-patched this process, but {requested} was "
                f"requested (via {ENV_VAR} or the 'concurrency' setting); use one of them"
            )
        return requested
    if already:
        return already
    for name in BACKENDS:
        if _installed(name):
            return name
    raise BackendError(
        "no concurrency backend is installed: pip install 'brubeck[gevent]' "
        "(or 'brubeck[eventlet]')"
    )


def select(configured: str | None = None) -> Backend:
    """Install the chosen backend once and return its module."""
    global _active
    name = choose(configured)
    if _active is not None:
        if _active.name != name:
            raise BackendError(f"backend {_active.name} is already active; cannot switch to {name}")
        return _active
    if not _installed(name):
        raise BackendError(f"{name} is not installed: pip install 'brubeck[{name}]'")
    module = cast(Backend, importlib.import_module(BACKENDS[name]))
    module.install()
    _active = module
    return module


def active() -> Backend:
    """The installed backend; installs the default one if none was chosen yet."""
    return _active if _active is not None else select()


if TYPE_CHECKING:  # mypy checks that each backend module is a Backend
    from . import eventlet as _eventlet
    from . import gevent as _gevent

    _gevent_checked: Backend = _gevent
    _eventlet_checked: Backend = _eventlet
