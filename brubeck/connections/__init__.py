"""Connections deliver requests to the app and carry responses back: the transports' registry.

Each connection has `run(application)`; none opens a socket before that, so a
0.4 app may build its connection before `Brubeck()` installs the backend.
`from_url` reads `BRUBECK_CONNECTION` (`wsgi://HOST:PORT` or
`mongrel2://PULL_ADDR,PUB_ADDR[?upload_store=...&chroot=...]`), so one app file
runs on either.

This package imports no transport: `CONNECTIONS` names each connection class by
import string, loaded the first time it is asked for (`from brubeck.connections
import Mongrel2Connection` works as in 0.4). To add a transport, register its
class there.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

#: Transport name (the URL scheme of `from_url`) -> "module:attribute" of its connection class.
CONNECTIONS: dict[str, str] = {
    "wsgi": "brubeck.connections.wsgi:WSGIConnection",
    "mongrel2": "brubeck.mongrel2.connection:Mongrel2Connection",
    # A worker behind the supervisor's dispatcher (brubeck.mongrel2.dispatcher).
    "mongrel2+dispatcher": "brubeck.mongrel2.connection:Mongrel2Connection",
}
#: Public class names served lazily, by the transport that defines them.
_EXPORTS = {"WSGIConnection": "wsgi", "Mongrel2Connection": "mongrel2"}

__all__ = ["CONNECTIONS", "Mongrel2Connection", "WSGIConnection", "connection_class",
           "from_url", "mongrel2_connection"]


def connection_class(transport: str) -> Any:
    """The connection class registered for `transport`, imported on first use."""
    module, _, attribute = CONNECTIONS[transport].partition(":")
    return getattr(importlib.import_module(module), attribute)


def __getattr__(name: str) -> Any:
    transport = _EXPORTS.get(name)
    if transport is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return connection_class(transport)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def mongrel2_connection(pull_addr: str, pub_addr: str) -> Any:
    return connection_class("mongrel2")(pull_addr, pub_addr)


def from_url(url: str) -> Any:
    """A connection from `wsgi://host:port` or `mongrel2://pull_addr,pub_addr`."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "wsgi":
        parts = urlsplit(f"//{rest}")
        try:
            port = parts.port or 6767
        except ValueError:
            raise ValueError(f"bad port in connection URL {url!r}") from None
        return connection_class("wsgi")(port=port, host=parts.hostname or "127.0.0.1")
    if scheme == "mongrel2":
        pair, _, options = rest.partition("?")
        addresses = [a.strip() for a in pair.split(",")]
        if len(addresses) != 2 or not all(addresses):
            raise ValueError(f"expected mongrel2://PULL_ADDR,PUB_ADDR, got {url!r}")
        pull_addr, pub_addr = addresses
        return connection_class("mongrel2").from_url_parts(pull_addr, pub_addr, options)
    if scheme == "mongrel2+dispatcher":  # the supervisor passes it to its workers
        worker_addr, _, options = rest.partition("?")
        if not worker_addr:
            raise ValueError(f"expected mongrel2+dispatcher://WORKER_ADDR, got {url!r}")
        return connection_class(scheme).from_dispatcher_url_parts(worker_addr, options)
    raise ValueError(f"unknown connection URL {url!r}: use wsgi://HOST:PORT or "
                     "mongrel2://PULL_ADDR,PUB_ADDR")
