"""Mongrel2 over ZeroMQ (being built; see the Mongrel2 issue)."""

from __future__ import annotations

from typing import Any


class Mongrel2Connection:
    def __init__(self, pull_addr: str, pub_addr: str) -> None:
        self.pull_addr = pull_addr
        self.pub_addr = pub_addr

    def run(self, application: Any) -> None:
        raise NotImplementedError("Mongrel2Connection is not implemented yet")
