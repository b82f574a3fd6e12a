"""A worker app for the dispatcher tests: answers with its pid; `/wait` is a long poll.

`/wait` holds the request until Mongrel2 reports the client gone (or 10 s)
and appends `gone PID True|False` to the file named by EVENTS_FILE. `/stream`
sends a non-final first chunk, as a streaming handler does, then sleeps. `/busy`
appends `busy PID` to that file, then holds the whole worker for half a second
without yielding, so what arrives meanwhile waits in its socket and is read in
one turn. POOL
bounds how many requests run at once (the rest wait in the worker's socket).
"""

import os
import time

from brubeck import concurrency
from brubeck.request_handling import Brubeck, WebMessageHandler

BACKEND = concurrency.active()


class PidHandler(WebMessageHandler):
    def get(self):
        self.set_body(str(os.getpid()))
        return self.render()


class SlowHandler(WebMessageHandler):
    def get(self):
        BACKEND.sleep(float(self.get_argument("seconds", "1")))
        self.set_body(str(os.getpid()))
        return self.render()


class BusyHandler(WebMessageHandler):
    def get(self):
        with open(os.environ["EVENTS_FILE"], "a") as events:
            events.write(f"busy {os.getpid()}\n")
        until = time.monotonic() + 0.5
        while time.monotonic() < until:  # no yield: the event loop stands still
            pass
        self.set_body(str(os.getpid()))
        return self.render()


class WaitHandler(WebMessageHandler):
    def get(self):
        gone = self.message.client_gone.wait(10)
        with open(os.environ["EVENTS_FILE"], "a") as events:
            events.write(f"gone {os.getpid()} {bool(gone)}\n")
        self.set_body("late")
        return self.render()


class StreamHandler(WebMessageHandler):
    def get(self):
        client = self.message.transport
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
        self.application.msg_conn.send(client.sender, client.conn_id, head, final=False)
        BACKEND.sleep(float(self.get_argument("seconds", "30")))
        self.application.msg_conn.send(client.sender, client.conn_id, b"0\r\n\r\n")
        client.answered = True
        return self.render()


app = Brubeck(handler_tuples=[(r"^/pid$", PidHandler), (r"^/slow$", SlowHandler),
                              (r"^/busy$", BusyHandler), (r"^/wait$", WaitHandler),
                              (r"^/stream$", StreamHandler)],
              log_level="INFO", pool=BACKEND.Pool(int(os.environ.get("POOL", "100"))))
