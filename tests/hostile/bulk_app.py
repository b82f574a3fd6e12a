"""An AutoAPI over SQLite whose bulk write can be held open mid-transaction: the kill target.

Test-only hook: with BULK_HOLD_AT=N, the N-th INSERT of a request's batch writes
the file BULK_MARK and then spins (up to 30 s) inside the open transaction, so
the test can SIGKILL the process at a known point of the write. BULK_DB is
the database file. Run with BRUBECK_CONNECTION set (WSGI or Mongrel2).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from brubeck.autoapi import APIModel, AutoAPIBase, register_api
from brubeck.limits import MiB
from brubeck.queryset import SQLiteQueryset
from brubeck.request_handling import Brubeck

app = Brubeck(limits={"body": 32 * MiB, "json_body": 32 * MiB})

HOLD_AT = int(os.environ.get("BULK_HOLD_AT", "0"))
MARK = Path(os.environ.get("BULK_MARK", os.devnull))


class Item(APIModel):
    text: str


class HeldSQLite(SQLiteQueryset):
    """Counts INSERT statements per connection and holds the HOLD_AT-th one."""

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        inserts = 0

        def trace(statement: str) -> None:
            nonlocal inserts
            if statement.startswith("BEGIN"):
                inserts = 0
            elif statement.startswith("INSERT"):
                inserts += 1
                if inserts == HOLD_AT:
                    MARK.write_text(str(inserts))
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:  # not sleep(): it may be green here
                        pass

        if HOLD_AT:
            conn.set_trace_callback(trace)
        return conn


class ItemsAPI(AutoAPIBase):
    queries = HeldSQLite(os.environ.get("BULK_DB", ":memory:"), name="items")
    model = Item
    max_items = 5000  # the kill test writes one 5000-item batch


register_api(app, ItemsAPI, "/items")

if __name__ == "__main__":
    app.run()
