"""Choose and install one concurrency backend: gevent or eventlet.

The choice, in order: `BRUBECK_CONCURRENCY`, the app's `concurrency` config,
a backend that has already monkey-patched this process (gunicorn's gevent
worker, say), else the first installed of gevent, eventlet. Installing the
backend is the only place where monkey patching happens, and it happens once.

Every backend module offers the same small contract:
`install()`, `spawn(fn, *a)`, `Pool(size)`, `sleep(s)`, `Event`, `Queue`,
`Timeout`, `zmq` (its green pyzmq), `run_in_thread(fn, *a)` and
`serve_wsgi(app, host, port, ...)`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

BACKENDS = {
    "gevent": "brubeck.concurrency.gevent",
    "eventlet": "brubeck.concurrency.eventlet",
}
ENV_VAR = "BRUBECK_CONCURRENCY"

_active: ModuleType | None = None


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


def select(configured: str | None = None) -> ModuleType:
    """Install the chosen backend once and return its module."""
    global _active
    name = choose(configured)
    if _active is not None:
        if _active.name != name:
            raise BackendError(f"backend {_active.name} is already active; cannot switch to {name}")
        return _active
    if not _installed(name):
        raise BackendError(f"{name} is not installed: pip install 'brubeck[{name}]'")
    module = importlib.import_module(BACKENDS[name])
    module.install()
    _active = module
    return module


def active() -> ModuleType:
    """The installed backend; installs the default one if none was chosen yet."""
    return _active if _active is not None else select()
