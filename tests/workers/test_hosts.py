"""Workers on other hosts (issue #16 item 1): Mongrel2 in one network namespace, a
supervisor with 2 workers (and its dispatcher) in each of two others, joined by veth
pairs on a bridge, addresses from 192.0.2.0/24 (the documentation range) only.

The namespaces, and with them the veth pairs and every process in them, are
removed by a finalizer even when the test fails; namespaces an earlier run left
behind (this file's names, nothing running in them, the pytest that made them
gone, as after a SIGKILL) are removed when the fixture starts. Creating
namespaces needs root (CAP_SYS_ADMIN): without it the test skips, except in CI
(CI=true), where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys

import pytest

from brubeck.mongrel2 import config as m2
from tests.support.mongrel2 import PING
from tests.support.processes import ROOT, python_env, stop
from tests.workers.support import copy_app, supervised

MONGREL2_ADDRESS = "192.0.2.1"
HOST_ADDRESSES = ("192.0.2.2", "192.0.2.3")
PULL, PUB = f"tcp://{MONGREL2_ADDRESS}:9999", f"tcp://{MONGREL2_ADDRESS}:9998"
REQUESTS = 1000
# brubeck-<role>-<pid of the pytest that made it>-<tag>; before the pid was part of the
# name, brubeck-<role>-<tag>.
OURS = re.compile(r"brubeck-(?:mongrel2|a|b)-(?:(\d+)-)?[0-9a-f]{6}")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def remove_namespace(name: str) -> None:
    """SIGKILL what still runs in it (only our processes are there), then delete it: its
    veth ends go with it, and a veth pair dies with either end."""
    listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def remove_stale_namespaces() -> list[str]:
    """Delete this file's namespaces that nothing runs in and whose pytest is gone (a run
    killed before its finalizer); another run's, still being set up, is left alone."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    removed = []
    for name in (line.split()[0] for line in listed.splitlines() if line.strip()):
        match = OURS.fullmatch(name)
        if match is None:
            continue
        if match[1] is not None and os.path.exists(f"/proc/{match[1]}"):
            continue  # its pytest still runs
        if subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                          text=True).stdout.split():
            continue  # something lives in it
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        removed.append(name)
    return removed


@pytest.fixture
def hosts(request):
    """{"mongrel2": ns, "a": ns, "b": ns}: three namespaces on one bridge in the first."""
    stale = remove_stale_namespaces()
    if stale:
        print(f"\nremoved namespaces left by an earlier run: {stale}")
    tag = secrets.token_hex(3)
    names = {role: f"brubeck-{role}-{os.getpid()}-{tag}" for role in ("mongrel2", "a", "b")}
    assert all(OURS.fullmatch(name) for name in names.values())
    created: list[str] = []

    def cleanup():
        for name in reversed(created):
            remove_namespace(name)
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert tag not in left, f"namespaces left behind: {left}"

    request.addfinalizer(cleanup)
    try:
        for name in names.values():
            ip("netns", "add", name)
            created.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        center = names["mongrel2"]
        ip("-n", center, "link", "add", "br0", "type", "bridge")
        ip("-n", center, "addr", "add", f"{MONGREL2_ADDRESS}/24", "dev", "br0")
        ip("-n", center, "link", "set", "br0", "up")
        for number, (role, address) in enumerate(zip("ab", HOST_ADDRESSES, strict=True)):
            port = f"v{tag}{number}"  # at most 15 characters
            ip("link", "add", port, "netns", center, "type", "veth", "peer", "name", "eth0",
               "netns", names[role])
            ip("-n", center, "link", "set", port, "master", "br0", "up")
            ip("-n", names[role], "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", names[role], "link", "set", "eth0", "up")
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        reason = getattr(error, "stderr", "") or str(error)
        message = f"cannot create network namespaces: {reason.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return names


def netns(name: str) -> tuple[str, ...]:
    return ("ip", "netns", "exec", name)


def in_namespace(name: str, *args: str, timeout: float = 150) -> str:
    done = subprocess.run([*netns(name), sys.executable, *args], cwd=ROOT, env=python_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_scaleout_1_workers_on_two_other_hosts_answer_1000_requests(tmp_path, hosts):
    config = m2.Mongrel2Config(chroot=tmp_path / "m2", port=6767, bind_addr="127.0.0.1",
                               pull_addr=PULL, pub_addr=PUB)
    config.write()
    (config.chroot / "static" / PING).write_text("pong")
    m2.load(config.chroot)
    mongrel2 = subprocess.Popen([*netns(hosts["mongrel2"]),
                                 *m2.command(config.chroot, config.server_uuid)],
                                cwd=config.chroot, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    app = copy_app(tmp_path)
    url = f"mongrel2://{PULL},{PUB}"
    try:
        with supervised([f"{app}:app", "--workers", "2", "--connection", url], "", tmp_path,
                        prefix=netns(hosts["a"])) as host_a, \
             supervised([f"{app}:app", "--workers", "2", "--connection", url], "", tmp_path,
                        prefix=netns(hosts["b"])) as host_b:
            out = in_namespace(hosts["mongrel2"], "-m", "tests.workers.loader", "count",
                               "http://127.0.0.1:6767/", "20", str(REQUESTS), "5")
            result = json.loads(out)
            pids = {int(body.split()[1]): count for body, count in result["bodies"].items()}
            by_host = {name: {p: pids.get(p, 0) for p in sup.worker_pids()}
                       for name, sup in (("a", host_a), ("b", host_b))}
            print(f"\n{REQUESTS} requests through Mongrel2 in one namespace, 2 workers in each "
                  f"of two others: {result['status']}, timeouts {result['timeouts']}, errors "
                  f"{result['errors']}; answers per host and pid: {by_host}")
            assert result["status"] == {"200": REQUESTS}, result
            assert result["timeouts"] == result["errors"] == 0
            assert set(pids) <= set(by_host["a"]) | set(by_host["b"])
            # All four workers answered: 2 per host (none restarted), each at least once.
            assert [len(answers) for answers in by_host.values()] == [2, 2], by_host
            assert all(count > 0 for answers in by_host.values()
                       for count in answers.values()), by_host
            for sup in (host_a, host_b):
                assert re.search(rf"dispatcher: PULL {re.escape(PULL)}, PUB {re.escape(PUB)}",
                                 sup.log())
    finally:
        stop(mongrel2)
