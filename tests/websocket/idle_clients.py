"""Hold many idle WebSockets open: `python idle_clients.py PORT COUNT [PATH]`.

Opens COUNT connections to 127.0.0.1:PORT in batches, sends each a handshake,
and waits for every 101. Prints `open COUNT` (or `failed N: why`) and then holds
them until stdin closes. Plain sockets and one selector: no green library, so a
test process's backend does not have to carry 10,000 sockets.
"""

from __future__ import annotations

import selectors
import socket
import sys
import time

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n")
BATCH = 500


def open_batch(port: int, count: int, path: str, deadline: float) -> tuple[list, str | None]:
    request = HANDSHAKE.format(path=path, port=port).encode()
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(request)
        sock.setblocking(False)
        sockets.append(sock)
    selector = selectors.DefaultSelector()
    heads = {}
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
        heads[sock] = b""
    waiting = len(sockets)
    while waiting and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            sock = key.fileobj
            data = sock.recv(4096)
            heads[sock] += data
            if not data or b"\r\n\r\n" in heads[sock]:
                selector.unregister(sock)
                waiting -= 1
                if not heads[sock].startswith(b"HTTP/1.1 101 "):
                    return sockets, f"answer {heads[sock][:60]!r}"
    selector.close()
    return sockets, (f"{waiting} handshakes unanswered" if waiting else None)


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    path = sys.argv[3] if len(sys.argv) > 3 else "/idle"
    held = []
    deadline = time.monotonic() + 120
    try:
        while len(held) < count:
            sockets, error = open_batch(port, min(BATCH, count - len(held)), path, deadline)
            held.extend(sockets)
            if error:
                print(f"failed {len(held)}: {error}", flush=True)
                break
        else:
            print(f"open {len(held)}", flush=True)
    except OSError as error:
        print(f"failed {len(held)}: {error}", flush=True)
    sys.stdin.read()  # hold them until the test is done
    for sock in held:
        sock.close()


if __name__ == "__main__":
    main()
