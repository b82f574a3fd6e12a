"""Brubeck behind Mongrel2 with several worker processes.

    brubeck serve examples/mongrel2/app.py:app --mongrel2 --workers 2 \
        --mongrel2-dir /tmp/brubeck-m2 --port 6767
    curl localhost:6767/pid        # which worker answered
    curl localhost:6767/slow?seconds=1

The same file also runs over WSGI: `brubeck serve examples/mongrel2/app.py:app --port 8000`.
"""

import os

from brubeck import concurrency
from brubeck.request_handling import Brubeck, WebMessageHandler


class PidHandler(WebMessageHandler):
    def get(self):
        self.set_body(f"pid {os.getpid()}\n")
        return self.render()


class SlowHandler(WebMessageHandler):
    def get(self):
        concurrency.active().sleep(float(self.get_argument("seconds", "1")))
        self.set_body(f"slept in pid {os.getpid()}\n")
        return self.render()


app = Brubeck(handler_tuples=[(r"^/pid$", PidHandler), (r"^/slow$", SlowHandler)])

if __name__ == "__main__":
    app.run()
