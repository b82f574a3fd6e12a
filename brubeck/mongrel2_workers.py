"""Moved to `brubeck.workers`; this name keeps old imports working."""

from __future__ import annotations

from .workers import RESTART_PAUSE, Supervisor, prepare, serve

__all__ = ["RESTART_PAUSE", "Supervisor", "prepare", "serve"]
