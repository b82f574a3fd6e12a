"""The process supervisor: N worker processes kept running, replaced one at a time, drained.

`supervisor` is the loop (deaths, readiness, SIGHUP rolling restarts, SIGINT/
SIGTERM drain), `kinds` how workers are reached (WSGI on one inherited socket,
Mongrel2 directly or through the dispatcher), `serve` the command line's three
forms, `reload` the `--reload` file watcher.
"""

from __future__ import annotations

from .serve import prepare, serve, serve_remote, serve_wsgi
from .supervisor import RESTART_PAUSE, Supervisor

__all__ = ["RESTART_PAUSE", "Supervisor", "prepare", "serve", "serve_remote", "serve_wsgi"]
