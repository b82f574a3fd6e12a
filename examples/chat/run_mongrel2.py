"""Chat behind Mongrel2 with several workers sharing rooms through Redis, in one command.

    python examples/chat/run_mongrel2.py --workers 2      # http://127.0.0.1:6768

Without `--redis URL` a private redis-server is started on a free loopback
port (and stopped afterwards). Mongrel2's config is written to `--dir` on
first run; Brubeck's supervisor (`brubeck serve --mongrel2`) then runs Mongrel2
and the workers, restarting any worker that dies.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing

from brubeck import workers  # noqa: E402
from brubeck.mongrel2.config import CONFIG_NAME, Mongrel2Config, free_ports  # noqa: E402


@contextlib.contextmanager
def private_redis(data_dir: Path, port: int) -> Iterator[str]:
    """A redis-server of our own on a free loopback port; stopped by its PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server), "
                         "or pass --redis redis://HOST:PORT/DB")
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(data_dir)],
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=6768, help="HTTP port of Mongrel2")
    parser.add_argument("--redis", help="redis:// URL (default: start a private one)")
    parser.add_argument("--dir", type=Path, default=HERE / "data" / "mongrel2",
                        help="Mongrel2's chroot (config, logs, pid)")
    parser.add_argument("--shutdown-timeout", type=float, default=30.0,
                        help="seconds a stop waits for long polls in flight (then 503)")
    args = parser.parse_args(argv)
    chroot = args.dir.resolve()
    redis_port, pull_port, pub_port = free_ports(3)
    if not (chroot / CONFIG_NAME).exists():
        Mongrel2Config(chroot=chroot, port=args.port,
                       pull_addr=f"tcp://127.0.0.1:{pull_port}",
                       pub_addr=f"tcp://127.0.0.1:{pub_port}").write()
    with contextlib.ExitStack() as stack:
        redis_url = args.redis or stack.enter_context(
            private_redis(chroot.parent / "redis", redis_port))
        os.environ["CHAT_REDIS"] = redis_url
        print(f"Chat on http://127.0.0.1:{args.port} ({args.workers} workers, {redis_url})",
              flush=True)
        return workers.serve(f"{HERE / 'app.py'}:app", chroot, args.workers,
                             shutdown_timeout=args.shutdown_timeout)


if __name__ == "__main__":
    sys.exit(main())
