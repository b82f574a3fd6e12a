"""The dispatcher's own cost per request: this process plays Mongrel2 and the workers.

    python -m bench.dispatcher --requests 50000 --inflight 100 --workers 2

The dispatcher runs as it does in the supervisor (a thread; here of
`bench.apps.m2_dispatch` with no worker children). This process binds the
PUSH and SUB sockets Mongrel2 would, connects `--workers` DEALERs that answer
every request at once with a final reply, keeps `--inflight` requests
outstanding, and reads the dispatcher process's CPU from /proc: the CPU the
dispatcher adds to each request, free of the app's and Mongrel2's cost. Set
it beside a worker's CPU per request (`python -m bench.worker`) to see what
share of a request's cost the dispatcher path adds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq

from bench.cpu import tree_cpu_seconds
from bench.servers import ROOT, free_ports, python_env, stop

SENDER = b"3f4e1b9c-5b8a-4e8f-9d57-2a0c5f7e6d11"
REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"


def _tnet(value: bytes) -> bytes:
    return b"%d:%s," % (len(value), value)


def request_frame(conn_id: int, path: bytes = b"/hello") -> bytes:
    """A GET as Mongrel2 1.12 PUSHes it for wrk: its keys in Mongrel2's order (tnetstring)."""
    pairs = [(b"REMOTE_ADDR", b"127.0.0.1"), (b"METHOD", b"GET"), (b"URL_SCHEME", b"http"),
             (b"PATTERN", b"/"), (b"URI", path), (b"VERSION", b"HTTP/1.1"), (b"PATH", path),
             (b"host", b"127.0.0.1:6767"), (b"x-forwarded-for", b"127.0.0.1")]
    headers = b"".join(_tnet(k) + _tnet(v) for k, v in pairs)
    return b"%s %d %s %d:%s}0:," % (SENDER, conn_id, path, len(headers), headers)


def drive(push: zmq.Socket, sub: zmq.Socket, workers: list[zmq.Socket], frames: list[bytes],
          count: int) -> int:
    """One request per connection id, each resent as its reply arrives; `count` replies."""
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    for worker in workers:
        poller.register(worker, zmq.POLLIN)
    for frame in frames:
        push.send(frame)
    answered = 0
    while answered < count:
        if not poller.poll(30000):
            raise TimeoutError(f"no progress after {answered} replies")
        for worker in workers:  # answer what each worker was handed, as workers do:
            replies = []        # a turn's replies in one message
            while True:
                try:
                    frame = worker.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if frame == b"BATCHES":  # the dispatcher's answer to READY
                    continue
                sender, conn_id, _ = frame.split(b" ", 2)
                replies += (b"F", b"%s %d:%s, %s" % (sender, len(conn_id), conn_id, REPLY))
            if replies:
                worker.send_multipart(replies)
        while True:
            try:
                reply = sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            _, rest = reply.split(b" ", 1)
            size, _, rest = rest.partition(b":")
            answered += 1
            push.send(frames[int(rest[:int(size)])])
    return answered


def measure(requests: int, inflight: int, workers: int, warmup: int) -> dict[str, float]:
    pull_port, pub_port = free_ports(2)
    pull, pub = f"tcp://127.0.0.1:{pull_port}", f"tcp://127.0.0.1:{pub_port}"
    private = Path(tempfile.mkdtemp(prefix="brubeck-"))
    worker_addr = f"ipc://{private}/workers.sock"
    context = zmq.Context()
    push, sub = context.socket(zmq.PUSH), context.socket(zmq.SUB)
    push.bind(pull)
    sub.bind(pub)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    proc = subprocess.Popen([sys.executable, "-m", "bench.apps.m2_dispatch", pull, pub,
                             worker_addr, "0", "gevent"], cwd=ROOT, env=python_env())
    try:
        dealers = []
        for slot in range(workers):
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.IDENTITY, b"%d.0" % slot)
            dealer.connect(worker_addr)
            dealer.send(b"READY")
            dealers.append(dealer)
        # A bound SUB sends its subscription to a new peer only when its owner touches
        # it; the dispatcher connects its PULL once subscribed (as Mongrel2 does).
        deadline = time.monotonic() + 30
        while not push.poll(10, zmq.POLLOUT):
            sub.poll(0)
            if time.monotonic() > deadline:
                raise TimeoutError("the dispatcher never connected")
        frames = [request_frame(i) for i in range(inflight)]
        drive(push, sub, dealers, frames, warmup)
        cpu0, t0 = tree_cpu_seconds([proc.pid]), time.perf_counter()
        done = drive(push, sub, dealers, frames, requests)
        cpu1, t1 = tree_cpu_seconds([proc.pid]), time.perf_counter()
    finally:
        stop(proc)
        context.destroy(linger=0)
        for leftover in private.iterdir():
            leftover.unlink()
        private.rmdir()
    cpu = (cpu1 or 0.0) - (cpu0 or 0.0)
    return {"requests": done, "seconds": t1 - t0, "req_per_s": done / (t1 - t0),
            "dispatcher_cpu_s": cpu, "dispatcher_us_per_req": cpu / done * 1e6}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatcher",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--inflight", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results = [measure(args.requests, args.inflight, args.workers, args.warmup)
               for _ in range(args.rounds)]
    for result in results:
        print(f"{result['requests']} requests in {result['seconds']:.2f} s "
              f"({result['req_per_s']:.0f}/s): dispatcher CPU "
              f"{result['dispatcher_us_per_req']:.1f} µs per request")
    median = sorted(r["dispatcher_us_per_req"] for r in results)[len(results) // 2]
    print(f"median of {len(results)}: {median:.1f} µs of dispatcher CPU per request "
          f"({args.workers} workers, {args.inflight} in flight)")


if __name__ == "__main__":
    main()
