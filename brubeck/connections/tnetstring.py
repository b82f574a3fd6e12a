"""Moved to `brubeck.mongrel2.tnetstring`; this name keeps old imports working."""

from __future__ import annotations

from ..mongrel2.tnetstring import MAX_DEPTH, Value, dumps, loads, parse

__all__ = ["MAX_DEPTH", "Value", "dumps", "loads", "parse"]
