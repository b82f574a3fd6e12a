"""One Mongrel2 handler process measured alone: this process plays Mongrel2 on ZeroMQ.

    python -m bench.worker brubeck-gevent --path /hello --requests 20000
    python -m bench.worker m2-green --requests 20000          # the zmq.green anchor
    python -m bench.worker brubeck-gevent --profile /tmp/w.prof   # cProfile the worker
    python -m bench.worker brubeck-gevent@/tmp/old brubeck-gevent --rounds 3  # before/after
    python -m bench.worker brubeck-eventlet brubeck-eventlet+dispatched   # behind a dispatcher

With real Mongrel2 and wrk, three processes share the machine and the
worker's share of the CPU is not the worker's cost alone. Here the driver
binds the PUSH and SUB sockets Mongrel2 would, keeps `--inflight` requests
outstanding (one per connection id, each resent as soon as it is answered)
and reports the worker's own CPU per request from /proc: the figure the
hot-path work moves, steadier than requests/s on a shared machine.

A `+dispatched` kind is the worker `brubeck serve --mongrel2` starts behind
its dispatcher: the driver binds the ROUTER the dispatcher would, answers the
worker's READY with BATCHES, sends what one turn reads as one message and
takes the worker's batched F/reply pairs (brubeck.mongrel2.dispatcher).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq

from bench.cpu import tree_cpu_seconds
from bench.servers import BRUBECK_APP, ROOT, free_ports, python_env
from brubeck.mongrel2 import tnetstring

SENDER = b"3f4e1b9c-5b8a-4e8f-9d57-2a0c5f7e6d11"


def request_frame(conn_id: int, path: str, port: int = 6767) -> bytes:
    """What Mongrel2 1.12 PUSHes for wrk's `GET path` (tnetstring protocol)."""
    headers = {
        "PATH": path, "host": f"127.0.0.1:{port}", "x-forwarded-for": "127.0.0.1",
        "METHOD": "GET", "VERSION": "HTTP/1.1", "URI": path, "PATTERN": "/",
        "URL_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1",
    }
    return b"%s %d %s %s0:," % (SENDER, conn_id, path.encode(), tnetstring.dumps(headers))


def worker_command(kind: str, link: str, profile: Path | None) -> list[str]:
    """The worker's command line; `link` is its `--connection` URL."""
    kind = kind.partition("@")[0].removesuffix("+dispatched")
    head = [sys.executable]
    if profile is not None:
        head += ["-m", "cProfile", "-o", str(profile)]
    if kind == "m2-green":
        return [*head, "-m", "bench.apps.m2_green", *link.removeprefix("mongrel2://").split(",")]
    backend = kind.removeprefix("brubeck-")
    return [*head, "-m", "brubeck", "serve", BRUBECK_APP, "--connection", link,
            "--concurrency", backend]


def reply_key(reply: bytes) -> tuple[int, bool]:
    """`(first connection id, has a body)` of a reply `SENDER LEN:IDS, BODY`."""
    _, rest = reply.split(b" ", 1)
    size, _, rest = rest.partition(b":")
    ids, body = rest[:int(size)], rest[int(size) + 2:]
    return int(ids.split(b" ", 1)[0]), bool(body)


class Direct:
    """Mongrel2's two sockets: PUSH requests, SUB replies."""

    def __init__(self, context: zmq.Context) -> None:
        pull_port, pub_port = free_ports(2)
        pull, pub = f"tcp://127.0.0.1:{pull_port}", f"tcp://127.0.0.1:{pub_port}"
        self.url = f"mongrel2://{pull},{pub}"
        self.push = context.socket(zmq.PUSH)
        self.push.bind(pull)
        self.sub = context.socket(zmq.XSUB)  # to repeat the subscription (see probe)
        self.sub.setsockopt(zmq.RCVTIMEO, 30000)
        self.sub.bind(pub)

    def probe(self, frame: bytes) -> bool:
        """Send `frame` if a worker is there; whether a reply came back.

        A PUB drops what it sends before the subscription arrives, and a SUB
        that binds here sends its subscription when a peer connects, which
        pyzmq's libzmq 4.3.5 did not deliver to Brubeck's XPUB: so subscribe
        again each time.
        """
        self.sub.send(b"\x01")  # subscribe to everything
        with contextlib.suppress(zmq.Again):  # no PULL connected yet
            self.push.send(frame, zmq.NOBLOCK)
        return bool(self.sub.poll(200))

    def send(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.push.send(frame)

    def receive(self) -> list[bytes]:
        return [self.sub.recv()]

    def settle(self) -> None:
        while self.sub.poll(200):
            self.sub.recv()


class Dispatched:
    """The dispatcher's ROUTER, for one worker: a turn's frames go as one message."""

    IDENT = b"bench-worker"

    def __init__(self, context: zmq.Context, workdir: Path) -> None:
        self.url = f"mongrel2+dispatcher://ipc://{workdir}/workers"
        self.router = context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.RCVTIMEO, 30000)
        self.router.bind(self.url.removeprefix("mongrel2+dispatcher://"))
        self.ready = False

    def probe(self, frame: bytes) -> bool:
        if not self.ready:
            if not self.router.poll(200):
                return False
            _, word = self.router.recv_multipart()
            if word != b"READY":
                raise RuntimeError(f"the worker said {word!r} before READY")
            self.router.send_multipart([self.IDENT, b"BATCHES"])
            self.ready = True
        self.send([frame])
        return bool(self.router.poll(2000))

    def send(self, frames: list[bytes]) -> None:
        self.router.send_multipart([self.IDENT, *frames])

    def receive(self) -> list[bytes]:
        parts = self.router.recv_multipart()
        return parts[2::2]  # ident, then (F or S, reply) pairs

    def settle(self) -> None:
        while self.router.poll(200):
            self.router.recv_multipart()


def drive(link: Direct | Dispatched, frames: list[bytes], count: int) -> int:
    """Send one request per connection, resend each as it is answered; `count` answers."""
    answered = 0
    link.send(frames)
    while answered < count:
        again = []
        for reply in link.receive():
            conn_id, has_body = reply_key(reply)
            if has_body:  # not a close
                answered += 1
                again.append(frames[conn_id])
        if again:
            link.send(again)
    return answered


def measure(kind: str, path: str, requests: int, inflight: int, warmup: int,
            profile: Path | None = None, spy: Path | None = None) -> dict[str, float]:
    context = zmq.Context()
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as workdir:
        name, _, tree_path = kind.partition("@")  # KIND@TREE: that checkout's Brubeck
        link = Dispatched(context, Path(workdir)) if name.endswith("+dispatched") \
            else Direct(context)
        tree = Path(tree_path or ROOT)
        env = python_env()
        env["PYTHONPATH"] = str(tree)
        env["BRUBECK_WORKER_ID"] = Dispatched.IDENT.decode()
        proc = subprocess.Popen(worker_command(kind, link.url, profile), cwd=tree, env=env,
                                stdout=subprocess.DEVNULL)
        try:
            frames = [request_frame(i, path) for i in range(inflight)]
            _wait_for_worker(link, frames[0], proc)
            drive(link, frames, warmup)
            link.settle()
            spying = _spy(proc.pid, spy) if spy is not None else None
            cpu0, t0 = tree_cpu_seconds([proc.pid]), time.perf_counter()
            drive(link, frames, requests)
            elapsed, cpu1 = time.perf_counter() - t0, tree_cpu_seconds([proc.pid])
            if spying is not None:
                spying.send_signal(signal.SIGINT)
                spying.wait(30)
            link.settle()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            context.destroy(linger=0)
    cpu = (cpu1 or 0.0) - (cpu0 or 0.0)
    return {"req_s": requests / elapsed, "req_cpu_s": requests / cpu if cpu else float("nan"),
            "cpu_us": 1e6 * cpu / requests}


def _spy(pid: int, out: Path) -> subprocess.Popen:
    """py-spy sampling the worker's Python stacks (collapsed format) until SIGINT."""
    spy = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--rate", "250",
                            "--nonblocking", "--format", "raw", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    return spy


def _function(frame: str) -> str:
    """`name (path/file.py:LINE)` without its line: samples add up per function."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    return f"{name} ({path})" if path else name or "(no Python frame)"


def profile_table(collapsed: Path, top: int = 25) -> str:
    """A Markdown table of the functions holding most samples: own (self) and total."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        samples += count
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + count
        for name in set(frames):
            total[name] = total.get(name, 0) + count
    rows = ["| function | own % | total % |", "|---|--:|--:|"]
    for name, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        rows.append(f"| `{name}` | {100 * count / samples:.1f} | "
                    f"{100 * total[name] / samples:.1f} |")
    return "\n".join(rows)


def _wait_for_worker(link: Direct | Dispatched, frame: bytes, proc: subprocess.Popen) -> None:
    """Probe until a reply comes back: the worker is up and its replies reach us."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if link.probe(frame):
            link.settle()
            return
    raise RuntimeError(f"worker {proc.args} never answered")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("kind", nargs="+",
                        help="brubeck-gevent, brubeck-eventlet (either +dispatched), m2-green")
    parser.add_argument("--path", default="/hello")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--inflight", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved over the kinds")
    parser.add_argument("--profile", type=Path, help="cProfile output (one kind, one round)")
    parser.add_argument("--spy", type=Path,
                        help="py-spy collapsed stacks of the measured phase (one kind, one round);"
                             " a profile table is printed")
    args = parser.parse_args(argv)
    if args.spy is not None and shutil.which("py-spy") is None:
        parser.error("--spy needs py-spy on PATH (pip install py-spy)")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in args.kind}
    for round_no in range(args.rounds):
        for kind in args.kind if round_no % 2 == 0 else args.kind[::-1]:
            result = measure(kind, args.path, args.requests, args.inflight, args.warmup,
                             args.profile, args.spy)
            results[kind].append(result)
            print(f"[{round_no + 1}] {kind:28} {args.path:8} {result['req_s']:8.0f} req/s "
                  f"{result['req_cpu_s']:8.0f} req/CPU-s {result['cpu_us']:6.1f} us/req "
                  f"(busy {result['req_s'] * result['cpu_us'] / 1e4:3.0f}%)",
                  flush=True)
    for kind, rows in results.items():
        cpu = sorted(r["cpu_us"] for r in rows)[len(rows) // 2]
        print(f"median {kind:28} {cpu:6.1f} us/req  {1e6 / cpu:8.0f} req/CPU-s")
    if args.spy is not None:
        print(profile_table(args.spy))


if __name__ == "__main__":
    main()
