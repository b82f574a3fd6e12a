"""Stock gevent.pywsgi with only the two fixes every fair pywsgi baseline needs.

Stock pywsgi sends the head and the body in two `sendall`s and leaves Nagle on,
so a keep-alive client waits for a delayed ACK on every response. This server
joins them into one write and sets TCP_NODELAY, and does nothing else: none of
Brubeck's own limits or timeouts, so their cost counts against Brubeck.
"""

import socket

from gevent import pywsgi


class OneWriteHandler(pywsgi.WSGIHandler):
    def _write_with_headers(self, data):
        self.headers_sent = True
        self.finalize_headers()
        head = [b"HTTP/1.1 ", self.status, b"\r\n"]
        for name, value in self.response_headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        head.append(data or b"")
        self._sendall(b"".join(head))


class NoDelayServer(pywsgi.WSGIServer):
    handler_class = OneWriteHandler

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def serve(app, port):
    NoDelayServer(("127.0.0.1", port), app, log=None).serve_forever()
