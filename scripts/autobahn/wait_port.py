"""Wait until HOST:PORT accepts a connection (at most SECONDS); exit 1 if it never does."""

import socket
import sys
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        socket.create_connection((host, port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(f"{host}:{port} did not accept connections within {seconds:g} s")
