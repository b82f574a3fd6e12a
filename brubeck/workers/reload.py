"""`brubeck serve --reload`: notice edits to the app's Python files and templates.

Polling file times keeps it dependency-free and the same everywhere; the
supervisor asks every tick and this looks at most every `INTERVAL` seconds.
A change starts a rolling restart, so the server keeps answering meanwhile.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("brubeck.workers")

INTERVAL = 0.5
#: Python sources and the template engines' usual suffixes.
SUFFIXES = frozenset({".py", ".html", ".htm", ".jinja", ".jinja2", ".j2", ".mako", ".mustache",
                      ".tpl", ".tmpl", ".txt", ".xml", ".json"})
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "venv", ".venv", "env", ".tox", "build",
                       "dist", "site-packages"})
MAX_FILES = 10_000  # a watched tree larger than this is cut short, with a warning


class Watcher:
    """Modification times of the watched files under `roots`; `changed()` says when they move."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [Path(r).resolve() for r in roots]
        self.next_look = 0.0
        self.truncated = False
        self.seen = self._scan()
        log.warning("reload: watching %d files under %s", len(self.seen),
                    ", ".join(map(str, self.roots)))

    def _scan(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for root in self.roots:
            for directory, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
                for name in files:
                    if os.path.splitext(name)[1] not in SUFFIXES:
                        continue
                    path = os.path.join(directory, name)
                    try:
                        found[path] = os.stat(path).st_mtime_ns
                    except OSError:
                        continue
                    if len(found) >= MAX_FILES:
                        if not self.truncated:
                            log.warning("reload: watching only the first %d files", MAX_FILES)
                            self.truncated = True
                        return found
        return found

    def __call__(self) -> bool:
        """True once per change (files added, removed or modified)."""
        now = time.monotonic()
        if now < self.next_look:
            return False
        self.next_look = now + INTERVAL
        current = self._scan()
        if current == self.seen:
            return False
        changed = sorted(p for p in current.keys() | self.seen.keys()
                         if current.get(p) != self.seen.get(p))
        self.seen = current
        log.warning("reload: %s changed", ", ".join(changed[:3]) +
                    (f" and {len(changed) - 3} more" if len(changed) > 3 else ""))
        return True


def watched_roots(target: str) -> list[Path]:
    """The app file's directory, or the working directory for `package.module:app`."""
    module_ref = target.partition(":")[0]
    if module_ref.endswith(".py") or os.sep in module_ref:
        return [Path(module_ref).resolve().parent]
    return [Path.cwd()]
