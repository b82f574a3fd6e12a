"""The app the shutdown and worker tests run as a real process (`python shutdown_app.py`).

`/slow/<ms>` sleeps green for that long, then names its pid; `/pid` names it at once.
The connection comes from `BRUBECK_CONNECTION`; `TEST_SHUTDOWN_TIMEOUT` sets
`shutdown_timeout`.
"""

import os

from brubeck import concurrency
from brubeck.request_handling import Brubeck


def slow(application, message, ms):
    concurrency.active().sleep(int(ms) / 1000)
    return f"slept {ms} ms in {os.getpid()}\n"


def pid(application, message):
    return f"{os.getpid()}\n"


app = Brubeck(handler_tuples=[(r"^/slow/(?P<ms>\d+)$", slow), (r"^/pid$", pid)],
              shutdown_timeout=float(os.environ.get("TEST_SHUTDOWN_TIMEOUT", "30")))

if __name__ == "__main__":
    app.run()
