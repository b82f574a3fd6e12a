"""Issue 16 item 8: request metrics (count by method, route and status; latency histogram)
in Prometheus' text format at `metrics_path`, and a `ready_path` that turns 503 while
draining; over WSGI and behind Mongrel2, and summed over worker processes with
PROMETHEUS_MULTIPROC_DIR (Mongrel2 workers, and the supervisor's WSGI workers)."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.middleware.served import TRANSPORTS, serve
from tests.support.processes import ROOT, python_env


def samples(served) -> dict[tuple[str, tuple], float]:
    reply = served.get("/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def count(found, route, status, method="GET"):
    key = ("brubeck_requests_total",
           (("method", method), ("route", route), ("status", str(status))))
    return found.get(key, 0)


def observed(found, route, method="GET"):
    return found.get(("brubeck_request_duration_seconds_count",
                      (("method", method), ("route", route))), 0)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_16_8_counts_and_latency_per_route(tmp_path, transport):
    with serve(tmp_path, transport, BRUBECK_METRICS_PATH="/metrics") as served:
        for _ in range(3):
            served.get("/hello")
        served.get("/nowhere")
        served.request("POST", "/payload")
        served.get("/crash")
        found = samples(served)
    assert count(found, "^/hello$", 200) == 3
    assert observed(found, "^/hello$") == 3
    assert count(found, "(unmatched)", 404) >= 1  # /nowhere (and the start-up probe)
    assert count(found, "^/payload$", 201, "POST") == 1
    assert count(found, "^/crash$", 500) == 1
    buckets = [v for (name, labels), v in found.items()
               if name == "brubeck_request_duration_seconds_bucket"
               and ("route", "^/hello$") in labels]
    assert len(buckets) > 5 and max(buckets) == 3  # cumulative, +Inf holds them all


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_16_8_ready_then_draining(tmp_path, transport):
    with serve(tmp_path, transport, BRUBECK_READY_PATH="/ready") as served:
        ready = served.get("/ready")
        assert (ready.status, ready.text, ready.headers["cache-control"]) == \
            (200, "ready\n", "no-store")
        served.get("/drain")  # what the shutdown code does: app.draining = True
        draining = served.get("/ready")
    assert (draining.status, draining.headers["retry-after"]) == (503, "1")


def hammer(served, path, total):
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: served.get(path), range(total)))
    assert all(r.status == 200 for r in replies)
    return {r.json()["pid"] for r in replies}


def test_metrics_16_8_mongrel2_workers_summed_through_the_multiprocess_dir(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    with serve(tmp_path, "mongrel2", workers=2, BRUBECK_METRICS_PATH="/metrics",
               PROMETHEUS_MULTIPROC_DIR=str(shared)) as served:
        pids, total = set(), 0
        deadline = time.monotonic() + 60  # a slow start on a busy machine: wait, bounded
        while len(pids) < 2 and time.monotonic() < deadline:  # until the second connects
            pids |= hammer(served, "/whoami", 60)
            total += 60
            if len(pids) < 2:
                time.sleep(0.2)
        scrapes = [count(samples(served), "^/whoami$", 200) for _ in range(6)]
    assert pids == {p.pid for p in served.extra["procs"]}  # both workers answered
    assert scrapes == [total] * 6  # whichever worker answered the scrape: the sum


def test_metrics_16_8_supervised_wsgi_workers_summed(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    with serve(tmp_path, "wsgi", args=("--workers", "2"), BRUBECK_METRICS_PATH="/metrics",
               PROMETHEUS_MULTIPROC_DIR=str(shared)) as served:
        pids, total = set(), 0
        deadline = time.monotonic() + 60  # the kernel picks the accepting process, and a
        while len(pids) < 2 and time.monotonic() < deadline:  # busy machine starts slowly
            pids |= hammer(served, "/whoami", 40)
            total += 40
            if len(pids) < 2:
                time.sleep(0.2)
        scrapes = [count(samples(served), "^/whoami$", 200) for _ in range(6)]
    assert len(pids) == 2
    assert scrapes == [total] * 6


def test_metrics_16_8_without_prometheus_client_the_extra_is_named():
    code = ("import sys; sys.modules['prometheus_client'] = None\n"
            "from brubeck import Brubeck\n"
            "Brubeck(metrics_path='/metrics')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=python_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "pip install 'brubeck[metrics]'" in done.stderr
