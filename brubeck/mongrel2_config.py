"""Moved to `brubeck.mongrel2.config`; this name keeps old imports working."""

from __future__ import annotations

from .mongrel2.config import (
    CHROOT_DIRS,
    CONFIG_NAME,
    DATABASE_NAME,
    MAX_BUFFER,
    Mongrel2Config,
    clear_stale_pid,
    command,
    free_ports,
    load,
    read_back,
)
from .mongrel2.uploads import UPLOAD_TEMPLATE

__all__ = ["CHROOT_DIRS", "CONFIG_NAME", "DATABASE_NAME", "MAX_BUFFER", "UPLOAD_TEMPLATE",
           "Mongrel2Config", "clear_stale_pid", "command", "free_ports", "load", "read_back"]
