"""A worker app for the process tests: answers with its pid; POOL bounds concurrency."""

import os

from brubeck import concurrency
from brubeck.request_handling import Brubeck, WebMessageHandler


class PidHandler(WebMessageHandler):
    def get(self):
        self.set_body(str(os.getpid()))
        return self.render()


class SlowHandler(WebMessageHandler):
    def get(self):
        concurrency.active().sleep(float(self.get_argument("seconds", "1")))
        self.set_body(str(os.getpid()))
        return self.render()


app = Brubeck(handler_tuples=[(r"^/pid$", PidHandler), (r"^/slow$", SlowHandler)],
              pool=concurrency.active().Pool(int(os.environ.get("POOL", "100"))))

if __name__ == "__main__":
    app.run()
