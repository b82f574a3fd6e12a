"""Brubeck 0.4's module name, kept so 0.4 apps import unchanged."""

from .app import Brubeck
from .handlers import JSONMessageHandler, MessageHandler, WebMessageHandler
from .response import http_response, render

__all__ = [
    "Brubeck", "JSONMessageHandler", "MessageHandler", "WebMessageHandler",
    "http_response", "render",
]
