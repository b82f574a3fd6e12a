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
import logging
import os
import sys
import sysconfig
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast, overload

if TYPE_CHECKING:
    from ..limits import Limits
    from .process import Shutdown

BACKENDS = {
    "gevent": "brubeck.concurrency.gevent",
    "eventlet": "brubeck.concurrency.eventlet",
}
ENV_VAR = "BRUBECK_CONCURRENCY"
log = logging.getLogger("brubeck")



class GreenEvent(Protocol):
    """A resettable flag green threads wait on (gevent's interface; eventlet's is adapted)."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    # gevent's own overloads (no timeout: True once set), so its Event fits as it is.
    @overload
    def wait(self, timeout: None = None) -> bool: ...
    @overload
    def wait(self, timeout: float) -> bool: ...


class Backend(Protocol):
    """What a concurrency backend module provides; `app.backend` is one.

    `zmq` is the backend's green pyzmq module, imported on first use (WSGI-only apps
    need no pyzmq). `run_in_thread` runs blocking C or CPU work in a native thread
    without blocking the loop (a stdlib pool would, once patched). `listen` opens
    (or adopts from the supervisor) a green listening socket; `serve_wsgi` serves a
    WSGI app from it with Brubeck's hardened server for this backend, and drains
    when `shutdown` is requested (`process`). `current` and `call_later` are what
    `deadlines.Deadlines` needs: one loop timer in place of a Timeout per request.
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
    def current(self) -> Any: ...  # the running green thread (a greenlet: `.throw(error)`)
    def call_later(self, seconds: float, fn: Callable[[], Any], /) -> None: ...
    def run_in_thread(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...
    def listen(self, host: str, port: int, /) -> Any: ...
    def serve_wsgi(self, app: Callable[..., Any], host: str = ..., port: int = ...,
                   sock: Any = ..., limits: Limits | None = ...,
                   shutdown: Shutdown | None = ...) -> None: ...


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


#: Other backends already warned about (`warn_mixed_setup` says it once).
_warned: set[str] = set()
#: What blocks the loop the worst when a green worker is not (gunicorn's own workers).
_BLOCKING_GUNICORN_WORKERS = {
    "gunicorn.workers.sync": "sync worker is not green: a long poll holds its whole process",
    "gunicorn.workers.gthread": "gthread worker is not green: a long poll holds one of its "
                                "threads",
}
_GREEN_GUNICORN_WORKERS = ("gunicorn.workers.ggevent", "gunicorn.workers.geventlet")
PRIMITIVES = "brubeck.concurrency.active().sleep (and .spawn, .Event, .Queue, .Timeout, " \
    ".run_in_thread)"


def warn_mixed_setup(name: str) -> None:
    """Warn, once each, about what makes green threads block at start-up.

    Another backend's primitives (0.4's long-poll demo calls `eventlet.sleep`
    on gevent) run that backend's own loop, which never returns to ours: the
    worker hangs for good, deaf to SIGTERM. A gunicorn worker that is not green
    (sync, gthread) serves one request per process (or thread): a long poll
    holds it whole.
    """
    for other in BACKENDS:
        if other != name and other in sys.modules and other not in _warned:
            _warned.add(other)
            importers = _importers_of(other)
            by = f" (imported by {', '.join(importers)})" if importers else ""
            log.warning("this app runs on %s, but %s is imported%s: its sleep, spawn or "
                        "queues would block %s's loop and hang the worker for good; use "
                        "%s, which work on either backend", name, other, by, name, PRIMITIVES)
    worker = next((kind for module, kind in _BLOCKING_GUNICORN_WORKERS.items()
                   if module in sys.modules), None)
    if worker and "gunicorn" not in _warned and \
            not any(module in sys.modules for module in _GREEN_GUNICORN_WORKERS):
        _warned.add("gunicorn")
        log.warning("gunicorn's %s, and every request waits behind it; run gunicorn -k "
                    "gevent (pip install 'brubeck[gunicorn]') or brubeck serve", worker)


def _importers_of(package: str, most: int = 3) -> list[str]:
    """The app's modules (not Brubeck's, the standard library's or installed packages')
    that hold `package` or one of its names."""
    prefix = package + "."
    libraries = tuple({path for key, path in sysconfig.get_paths().items()
                       if key in ("stdlib", "platstdlib", "purelib", "platlib")})
    found: list[str] = []
    for module_name, module in list(sys.modules.items()):
        if module_name == package or module_name.startswith((prefix, "brubeck.")):
            continue
        try:
            if str(module.__file__ or libraries[0]).startswith(libraries):
                continue
            values = list(vars(module).values())
        except Exception:  # no file (built in), no attributes, or a lazy module's surprise
            continue
        for value in values:
            origin = _origin(value)
            if origin is not None and (origin == package or origin.startswith(prefix)):
                found.append("the app" if module_name == "__brubeck_app__" else module_name)
                break
        if len(found) >= most:
            break
    return found


def _origin(value: object) -> str | None:
    """The module a value is or comes from; None for what will not say (a lazy proxy)."""
    try:
        origin = value.__name__ if isinstance(value, ModuleType) else \
            getattr(value, "__module__", None)
    except Exception:
        return None
    return origin if isinstance(origin, str) else None


if TYPE_CHECKING:  # mypy checks that each backend module is a Backend
    from . import eventlet as _eventlet
    from . import gevent as _gevent

    _gevent_checked: Backend = _gevent
    _eventlet_checked: Backend = _eventlet
