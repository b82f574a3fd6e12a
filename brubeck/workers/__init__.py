"""The process supervisor: N worker processes kept running, replaced one at a time, drained."""

from __future__ import annotations

from .supervisor import RESTART_PAUSE, Supervisor, prepare, serve

__all__ = ["RESTART_PAUSE", "Supervisor", "prepare", "serve"]
