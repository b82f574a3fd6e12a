"""Connections deliver requests to the app and carry responses back.

Each connection has `run(application)`; none opens a socket before that, so a
0.4 app may build its connection before `Brubeck()` installs the backend.
`from_url` reads `BRUBECK_CONNECTION` (`wsgi://HOST:PORT` or
`mongrel2://PULL_ADDR,PUB_ADDR[?upload_store=...&chroot=...]`), so one app file
runs on either.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .mongrel2 import Mongrel2Connection
from .wsgi import WSGIConnection

__all__ = ["Mongrel2Connection", "WSGIConnection", "from_url", "mongrel2_connection"]


def mongrel2_connection(pull_addr: str, pub_addr: str) -> Mongrel2Connection:
    return Mongrel2Connection(pull_addr, pub_addr)


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
        return WSGIConnection(port=port, host=parts.hostname or "127.0.0.1")
    if scheme == "mongrel2":
        pair, _, options = rest.partition("?")
        addresses = [a.strip() for a in pair.split(",")]
        if len(addresses) != 2 or not all(addresses):
            raise ValueError(f"expected mongrel2://PULL_ADDR,PUB_ADDR, got {url!r}")
        pull_addr, pub_addr = addresses
        return Mongrel2Connection.from_url_parts(pull_addr, pub_addr, options)
    raise ValueError(f"unknown connection URL {url!r}: use wsgi://HOST:PORT or "
                     "mongrel2://PULL_ADDR,PUB_ADDR")
