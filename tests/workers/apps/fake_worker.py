"""A stand-in worker that speaks only the supervisor's protocol (inherited listening socket,
ready pipe, SIGTERM drains): the supervisor's own logic is tested without any backend.

Answers "VERSION PID" over HTTP/1.0. FAKE_WORKER=never-ready never signals readiness.
"""

import os
import signal
import socket
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION = "v1"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} {os.getpid()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class FakeApp:
    stopping = False

    def run(self):
        sock = socket.socket(fileno=int(os.environ.pop("BRUBECK_LISTEN_FD")))
        server = HTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
        server.socket = sock
        server.timeout = 0.05
        sock.settimeout(0.05)  # another worker may take the connection select saw

        def stop(signum, frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        ready = os.environ.pop("BRUBECK_READY_FD")
        if os.environ.get("FAKE_WORKER") != "never-ready":
            os.write(int(ready), b"R")
            os.close(int(ready))
        while not self.stopping:
            server.handle_request()


app = FakeApp()
