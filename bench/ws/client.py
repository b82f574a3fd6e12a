"""The load side of the WebSocket benchmark: plain non-blocking sockets and one epoll
loop (no asyncio, no WebSocket library), so the client costs a few microseconds per
message and the servers' differences show.

Clients mask with a zero key (valid: the key is the client's choice), so a frame is
its header and the payload as is; servers' frames are read by their header.
"""

from __future__ import annotations

import selectors
import socket
import struct
import time

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n")


def text_frame(payload: bytes) -> bytes:
    """A masked (zero key) final text frame of under 126 bytes."""
    return bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload


def server_text(payload: bytes) -> bytes:
    """What a server sends back for `payload` (unmasked, under 126 bytes)."""
    return bytes((0x81, len(payload))) + payload


def connect(port: int, path: str, count: int, batch: int = 200,
            timeout: float = 60.0) -> list[socket.socket]:
    """`count` upgraded connections (non-blocking, TCP_NODELAY), opened `batch` at a time."""
    request = HANDSHAKE.format(path=path, port=port).encode()
    opened: list[socket.socket] = []
    deadline = time.monotonic() + timeout
    while len(opened) < count:
        group = []
        for _ in range(min(batch, count - len(opened))):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            sock.setblocking(False)
            group.append(sock)
        heads = {sock: b"" for sock in group}
        with selectors.DefaultSelector() as selector:
            for sock in group:
                selector.register(sock, selectors.EVENT_READ)
            while heads:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(heads)} handshakes unanswered")
                for key, _ in selector.select(1.0):
                    sock = key.fileobj
                    data = sock.recv(4096)
                    heads[sock] += data
                    if b"\r\n\r\n" in heads[sock] or not data:
                        head = heads.pop(sock)
                        selector.unregister(sock)
                        if not head.startswith(b"HTTP/1.1 101 "):
                            raise RuntimeError(f"handshake answered {head[:80]!r}")
                        if not head.endswith(b"\r\n\r\n"):
                            raise RuntimeError("frames right after the 101: not expected")
        opened.extend(group)
    return opened


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        try:
            sock.setblocking(True)
            sock.settimeout(0.2)
            sock.sendall(bytes((0x88, 0x82)) + b"\0\0\0\0" + struct.pack("!H", 1000))
        except OSError:
            pass
        sock.close()


def echo(port: int, path: str, clients: int, seconds: float) -> dict:
    """Each client sends a message and waits for it back, again and again, for `seconds`:
    round trips per second, and whether every answer was the message sent."""
    sockets = connect(port, path, clients)
    payloads = {sock: f"echo {n:04d} {'x' * 16}".encode() for n, sock in enumerate(sockets)}
    expected = {sock: server_text(payload) for sock, payload in payloads.items()}
    frames = {sock: text_frame(payload) for sock, payload in payloads.items()}
    got = {sock: b"" for sock in sockets}
    done = wrong = 0
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        started = time.perf_counter()
        for sock in sockets:
            sock.send(frames[sock])
        end = started + seconds
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            for key, _ in selector.select(0.5):
                sock = key.fileobj
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError("the server closed an echo connection")
                buffered = got[sock] + data
                want = expected[sock]
                if len(buffered) < len(want):
                    got[sock] = buffered
                    continue
                got[sock] = b""
                done += 1
                wrong += buffered != want
                sock.send(frames[sock])
        elapsed = time.perf_counter() - started
    close_all(sockets)
    return {"round_trips_per_s": done / elapsed, "round_trips": done, "wrong": wrong,
            "clients": clients, "seconds": round(elapsed, 2)}


def fan_out(port: int, path: str, clients: int, rounds: int, settle: float = 1.0) -> dict:
    """`clients` connections in a room; one sends, the server relays to all: per round,
    milliseconds from the send until the last client has the whole message (and until
    the first has something: the rest of the spread is partly this loop reading)."""
    sockets = connect(port, path, clients)
    time.sleep(settle)  # every handler's open() has run
    times = []
    firsts = []
    missing = 0
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        for round_ in range(rounds):
            payload = f"fan {round_:04d}".encode()
            want = server_text(payload)
            got = {sock: b"" for sock in sockets}
            waiting = set(sockets)
            started = time.perf_counter()
            first = None
            sockets[0].send(text_frame(payload))
            deadline = started + 10.0
            while waiting and time.perf_counter() < deadline:
                for key, _ in selector.select(0.5):
                    if first is None:
                        first = time.perf_counter()
                    sock = key.fileobj
                    got[sock] += sock.recv(65536)
                    if sock in waiting and len(got[sock]) >= len(want):
                        waiting.discard(sock)
            if waiting:
                missing += len(waiting)
                continue
            times.append((time.perf_counter() - started) * 1000)
            firsts.append((first - started) * 1000)
            if any(data != want for data in got.values()):
                raise RuntimeError("a client got something else than the broadcast")
            time.sleep(0.2)
    close_all(sockets)
    times.sort()
    return {"fan_out_ms_median": times[len(times) // 2] if times else None,
            "fan_out_ms_min": times[0] if times else None,
            "fan_out_ms_max": times[-1] if times else None,
            "first_ms_median": sorted(firsts)[len(firsts) // 2] if firsts else None,
            "rounds": len(times), "missing": missing, "clients": clients}
