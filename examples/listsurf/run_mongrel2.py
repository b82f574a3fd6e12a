"""Listsurf as two processes behind one Mongrel2: the pages, and the JSON API.

    python examples/listsurf/run_mongrel2.py              # http://127.0.0.1:6767

Mongrel2 routes `/api/` to one handler and everything else to another; each
handler is a separate Brubeck process (`app.py --part api` / `--part web`)
on the same data directory, so they share users, links and the cookie secret.
A crash of the API process leaves the pages up, and either side can be scaled
by starting more processes on the same addresses. Everything started here is
stopped by PID on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from brubeck.mongrel2 import config as mongrel2_config  # noqa: E402
from brubeck.mongrel2.config import Mongrel2Config, free_ports  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=6767, help="HTTP port of Mongrel2")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--db", default="sqlite", help="'sqlite' or a redis:// URL")
    args = parser.parse_args(argv)

    chroot = (args.data / "mongrel2").resolve()
    pull, pub, api_pull, api_pub = (f"tcp://127.0.0.1:{port}" for port in free_ports(4))
    config = Mongrel2Config(chroot=chroot, port=args.port, pull_addr=pull, pub_addr=pub,
                            extra_handlers={"/api/": (api_pull, api_pub)})
    config.write()
    mongrel2_config.load(chroot)
    mongrel2_config.clear_stale_pid(chroot)

    def worker(part: str, pull: str, pub: str) -> subprocess.Popen:
        env = dict(os.environ, BRUBECK_CONNECTION=f"mongrel2://{pull},{pub}",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")])))
        return subprocess.Popen([sys.executable, str(HERE / "app.py"), "--part", part,
                                 "--data", str(args.data), "--db", args.db], env=env)

    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    procs = [subprocess.Popen(mongrel2_config.command(chroot, config.server_uuid), cwd=chroot,
                              stdout=subprocess.DEVNULL),
             worker("web", config.pull_addr, config.pub_addr),
             worker("api", api_pull, api_pub)]
    print(f"Listsurf on http://127.0.0.1:{args.port} (pages: pid {procs[1].pid}, "
          f"API: pid {procs[2].pid}, mongrel2: pid {procs[0].pid})", flush=True)
    status = 0
    try:
        while not stopping:
            if any(proc.poll() is not None for proc in procs):
                print("a Listsurf process exited; stopping the others", file=sys.stderr)
                status = 1
                break
            time.sleep(0.2)
    finally:
        for proc in reversed(procs):  # workers first, Mongrel2 last
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
