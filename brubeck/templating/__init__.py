"""Template rendering mixins (being built; see the templating issue)."""

from __future__ import annotations

from typing import Any


def render(env: Any, name: str, context: dict[str, Any]) -> str:
    raise NotImplementedError("templating is not implemented yet")
