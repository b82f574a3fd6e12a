"""What a backend's install and a server's start set for the whole process, checked in
a fresh interpreter each: gevent's spawn-tree tracking, and the start-up heap frozen."""

import subprocess
import sys

import pytest

from tests.support.processes import python_env

TRACKING = (
    "from brubeck import concurrency; concurrency.select('gevent').install(); "
    "import gevent; print(gevent.config.track_greenlet_tree)"
)
# Python 3.12 starts with a non-zero freeze count: compare with it, not with 0. The
# second call comes after new objects exist, which a second freeze would take in.
FREEZE = (
    "import gc; from brubeck.concurrency import process; before = gc.get_freeze_count(); "
    "process.serving(); after = gc.get_freeze_count(); made = [[] for _ in range(100)]; "
    "process.serving(); print(after > before, gc.get_freeze_count() == after)"
)


def run(code, **extra):
    env = python_env(BRUBECK_CONCURRENCY="gevent", **extra)  # the variable outranks select()
    if "GEVENT_TRACK_GREENLET_TREE" not in extra:
        env.pop("GEVENT_TRACK_GREENLET_TREE", None)  # the runner's own setting, if any
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_gevent_install_stops_tracking_the_spawn_tree():
    assert run(TRACKING) == ["False"]


@pytest.mark.parametrize("asked", ["1", "0"])
def test_gevent_tracking_follows_the_environment_when_it_is_set(asked):
    assert run(TRACKING, GEVENT_TRACK_GREENLET_TREE=asked) == [str(asked == "1")]


def test_serving_freezes_the_start_up_heap_once():
    assert run(FREEZE) == ["True", "True"]
