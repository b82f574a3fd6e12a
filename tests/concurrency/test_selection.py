"""Backend choice: environment, config, already-patched processes, clear errors."""

import subprocess
import sys

from tests.support.processes import python_env


def run_probe(code, **env):
    clean = python_env(**env)
    clean.pop("BRUBECK_CONCURRENCY", None)
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=clean, timeout=60)


APP = ("from brubeck import Brubeck; app = Brubeck(handler_tuples=[]{extra}); "
       "print(app.backend.name)")


def test_environment_chooses_backend():
    for name in ("gevent", "eventlet"):
        out = run_probe(APP.format(extra=""), BRUBECK_CONCURRENCY=name)
        assert out.stdout.strip() == name, out.stderr


def test_config_chooses_backend_when_environment_is_silent():
    out = run_probe(APP.format(extra=", concurrency='eventlet'"))
    assert out.stdout.strip() == "eventlet", out.stderr


def test_environment_wins_over_config():
    out = run_probe(APP.format(extra=", concurrency='eventlet'"), BRUBECK_CONCURRENCY="gevent")
    assert out.stdout.strip() == "gevent", out.stderr


def test_default_is_gevent():
    assert run_probe(APP.format(extra="")).stdout.strip() == "gevent"


def test_already_patched_process_is_adopted():
    code = "from gevent import monkey; monkey.patch_all(); " + APP.format(extra="")
    assert run_probe(code).stdout.strip() == "gevent"


def test_mismatch_with_patched_process_is_a_clear_error():
    code = "from gevent import monkey; monkey.patch_all(); " + APP.format(extra="")
    out = run_probe(code, BRUBECK_CONCURRENCY="eventlet")
    assert out.returncode != 0
    assert "gevent has already monkey-patched this process" in out.stderr


def test_unknown_backend_is_a_clear_error():
    out = run_probe(APP.format(extra=""), BRUBECK_CONCURRENCY="twisted")
    assert "unknown concurrency backend 'twisted'" in out.stderr


def test_missing_backend_names_the_extra():
    # Hide eventlet from the import system to play a machine without it.
    code = ("import sys; sys.modules['eventlet'] = None; import importlib.util as u; "
            "real = u.find_spec; u.find_spec = lambda n, *a: None if n == 'eventlet' "
            "else real(n, *a); " + APP.format(extra=""))
    out = run_probe(code, BRUBECK_CONCURRENCY="eventlet")
    assert "pip install 'brubeck[eventlet]'" in out.stderr
    assert "Traceback" in out.stderr  # a ConfigError, named, not an ImportError
    assert "ImportError" not in out.stderr and "ModuleNotFoundError" not in out.stderr
