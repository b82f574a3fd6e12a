"""The dispatcher path for the bench: a dispatcher thread in this process, N workers as children.

    python -m bench.apps.m2_dispatch PULL PUB WORKER_ADDR WORKERS BACKEND

As the supervisor runs it: the dispatcher PULLs from Mongrel2 and PUBlishes
to it, and each worker (`python -m brubeck serve bench/apps/brubeck_app.py:app`)
reaches it over `mongrel2+dispatcher://WORKER_ADDR`. The workers are this
process's children, so the bench's CPU figure counts them and the dispatcher
thread together. SIGTERM drains the workers, then stops the dispatcher.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from bench.servers import BRUBECK_APP, ROOT
from brubeck.mongrel2.dispatcher import Dispatcher


def main() -> None:
    pull, pub, worker_addr, count, backend = sys.argv[1:6]
    dispatcher = Dispatcher(pull, pub, worker_addr)
    dispatcher.start()
    workers = []
    for slot in range(int(count)):
        env = dict(os.environ, BRUBECK_CONNECTION=f"mongrel2+dispatcher://{worker_addr}",
                   BRUBECK_WORKER_ID=f"{slot}.0")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "brubeck", "serve", BRUBECK_APP, "--concurrency", backend],
            cwd=ROOT, env=env))
    for slot in range(int(count)):
        if not dispatcher.wait_ready(f"{slot}.0", 60):
            sys.exit(f"worker {slot}.0 never said READY")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    while not stopping.wait(0.5):
        pass
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        proc.wait(40)
    dispatcher.stop(5)


if __name__ == "__main__":
    main()
