"""Brubeck 0.4 demo files, unchanged, behind Mongrel2 (JSON protocol, as 0.4 ran it)
and over WSGI, chosen only by BRUBECK_CONNECTION."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from brubeck import mongrel2_config
from tests.support.mongrel2 import mongrel2_server, wait_static
from tests.support.processes import free_port, python_env, stop

HERE = Path(__file__).parent
DEMOS = HERE / "demos"

EXPECTED = {
    "demo_minimal": {"/brubeck?name=joe": "Take five, joe!", "/brubeck": "Take five, dude!"},
    "demo_noclasses": {"/brubeck": "Take five, dude!", "/brubeck?name=ann": "Take five, ann!"},
    "demo_urlargs": {"/": "Take five!", "/class/joe": "Take five, joe!",
                     "/fun/ann": "Take five, ann!", "/deco/bo": "Take five, bo!"},
    "demo_wsgi": {"/brubeck?name=w": "Take five, w!"},
}


def fetch(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.read().decode()


def first_answer(url, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"demo exited with {proc.returncode}")
        try:
            return fetch(url, 1.0)
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def check_demo(name, base_url, env):
    proc = subprocess.Popen([sys.executable, str(DEMOS / f"{name}.py")], env=env)
    try:
        paths = list(EXPECTED[name].items())
        assert first_answer(base_url + paths[0][0], proc) == paths[0][1]
        for path, text in paths[1:]:
            assert fetch(base_url + path) == text
    finally:
        stop(proc)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_behind_mongrel2(tmp_path, name):
    with mongrel2_server(tmp_path, protocol="json") as m2:
        check_demo(name, m2.url, python_env(BRUBECK_CONNECTION=m2.connection_url))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_over_wsgi(name):
    port = free_port()
    env = python_env(BRUBECK_CONNECTION=f"wsgi://127.0.0.1:{port}")
    check_demo(name, f"http://127.0.0.1:{port}", env)


def _free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_demo_urlargs_as_written_with_0_4_mongrel2_conf(tmp_path):
    """No override at all: 0.4's ports (6767, 9999, 9998) and its config shape."""
    if not all(_free(p) for p in (6767, 9999, 9998)):
        pytest.skip("ports 6767/9999/9998 are in use on this machine")
    for name in mongrel2_config.CHROOT_DIRS:
        (tmp_path / name).mkdir()
    shutil.copy(HERE / "mongrel2.conf", tmp_path / "m2.conf")
    (tmp_path / "static" / "ping.txt").write_text("pong")
    mongrel2_config.load(tmp_path)
    uuid = mongrel2_config.read_back(tmp_path)["server_uuid"]
    server = subprocess.Popen(mongrel2_config.command(tmp_path, uuid), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_static("http://127.0.0.1:6767", server)
        env = python_env()
        env.pop("BRUBECK_CONNECTION", None)
        check_demo("demo_urlargs", "http://127.0.0.1:6767", env)
    finally:
        stop(server)
