"""Brubeck: synchronous-looking handlers on gevent or eventlet, over WSGI or Mongrel2.

Importing this package has no side effects: no backend is imported and nothing
is monkey-patched until a `Brubeck` app is built (or the CLI starts). The
connection classes are served lazily from `brubeck.connections`' registry, so
no transport is imported either.
"""

from typing import Any

from .app import Brubeck
from .config import ConfigError
from .errors import BadRequest, HTTPError
from .handlers import JSONMessageHandler, MessageHandler, WebMessageHandler
from .request import Request
from .response import Response, http_response, render

__version__ = "0.5.0.dev0"
version = __version__

_CONNECTIONS = ("Mongrel2Connection", "WSGIConnection")


def __getattr__(name: str) -> Any:
    if name in _CONNECTIONS:
        from . import connections

        return getattr(connections, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BadRequest",
    "Brubeck",
    "ConfigError",
    "HTTPError",
    "JSONMessageHandler",
    "MessageHandler",
    "Mongrel2Connection",
    "Request",
    "Response",
    "WSGIConnection",
    "WebMessageHandler",
    "http_response",
    "render",
]
