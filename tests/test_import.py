"""Importing brubeck has no side effects: no backend, engine or zmq, no patching."""

import subprocess
import sys

PROBE = (
    "import socket, sys; original = socket.socket; import brubeck, brubeck.request_handling, "
    "brubeck.connections, brubeck.templating; "
    "print([m for m in ('gevent','eventlet','zmq','jinja2','mako','tornado','pystache') "
    "if m in sys.modules], socket.socket is original)"
)


def test_import_brubeck_loads_no_backend_and_patches_nothing():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] True"


def test_building_an_app_patches_once(tmp_path):
    probe = (
        "import socket; original = socket.socket; from brubeck import Brubeck; "
        "a = Brubeck(handler_tuples=[]); b = Brubeck(handler_tuples=[]); "
        "print(socket.socket is original, a.backend is b.backend)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False True"
