"""Many idle WebSockets behind Mongrel2 (issue 15, hostile input): 10,000 connections held
open through Mongrel2, the dispatcher and one worker, with the memory each costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from brubeck.testing import LiveClient
from tests.support.processes import ROOT, free_port, python_env
from tests.workers.support import supervised

IDLE = 10_000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_ws_mongrel2_4_ten_thousand_idle_websockets(tmp_path):
    port = free_port()
    chroot = tmp_path / "m2"
    args = ["tests/websocket/mongrel2_app.py:app", "--mongrel2", "--workers", "1",
            "--mongrel2-dir", str(chroot), "--port", str(port)]
    with supervised(args, f"http://127.0.0.1:{port}", tmp_path, 1, chroot=chroot) as sup:
        mongrel2 = int((chroot / "run" / "mongrel2.pid").read_text())
        (worker,) = sup.worker_pids()
        processes = {"mongrel2": mongrel2, "worker": worker, "supervisor+dispatcher": sup.proc.pid}
        before = {name: rss_kib(pid) for name, pid in processes.items()}
        clients = subprocess.Popen([sys.executable, "tests/websocket/idle_clients.py", str(port),
                                    str(IDLE)], cwd=ROOT, env=python_env(),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            said = clients.stdout.readline().strip()
            assert said == f"open {IDLE}", said
            after = {name: rss_kib(pid) for name, pid in processes.items()}
            with LiveClient(sup.url).websocket("/pid") as ws:  # still serving
                assert ws.receive().startswith("pid:")
                ws.send("still here")
                assert ws.receive() == "still here"
        finally:
            clients.stdin.close()
            clients.wait(30)
        per = {name: (after[name] - before[name]) * 1024 / IDLE for name in processes}
        print(f"\n{IDLE} idle WebSockets, bytes of RSS per connection: "
              + ", ".join(f"{name} {value:,.0f}" for name, value in per.items()))
        assert per["worker"] < 64 * 1024  # a handler, its green thread and inbox
        # Mongrel2: a 32 KiB task stack and the 32 KiB `limits.buffer_size` the generated
        # config sets, per connection (measured: about 76 KiB).
        assert per["mongrel2"] < 128 * 1024
