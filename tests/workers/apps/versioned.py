"""A worker app for the supervisor tests: answers "VERSION PID"; the tests edit VERSION."""

import os

from brubeck import concurrency
from brubeck.request_handling import Brubeck, WebMessageHandler

VERSION = "v1"


class VersionHandler(WebMessageHandler):
    def get(self):
        seconds = float(self.get_argument("sleep", "0"))
        if seconds:
            concurrency.active().sleep(seconds)
        self.set_body(f"{VERSION} {os.getpid()}")
        return self.render()


app = Brubeck(handler_tuples=[(r"^/", VersionHandler)])
