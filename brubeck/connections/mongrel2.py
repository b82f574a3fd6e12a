"""Moved to the `brubeck.mongrel2` package; this name keeps old imports working."""

from __future__ import annotations

from ..mongrel2.connection import Mongrel2Connection
from ..mongrel2.uploads import MAX_REFUSED_UPLOADS

__all__ = ["MAX_REFUSED_UPLOADS", "Mongrel2Connection"]
