"""Request metrics in Prometheus' text format, through `prometheus_client` (extra `metrics`).

Per route (its pattern, so the number of series stays bounded; `(unmatched)`
for 404s and answers given before routing): `brubeck_requests_total` by method
and status, and `brubeck_request_duration_seconds`, a histogram by method.
`metrics_path` serves them; keep it on a private network or behind your proxy.

Several worker processes (Mongrel2 workers, or any server that forks) each
count their own requests. With `PROMETHEUS_MULTIPROC_DIR` set (to an empty
directory, before the workers start) `prometheus_client` keeps every process's
values in files there, and each worker's `metrics_path` answers the sum over
all workers: scrape any one of them. Without it, each answer is one process's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from ..request import Request
from ..response import Response
from . import Middleware
from .access_log import elapsed_ms

if TYPE_CHECKING:
    from ..app import Brubeck

UNMATCHED = "(unmatched)"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or os.environ.get(MULTIPROCESS_ENV.lower())


def route_label(message: Request) -> str:
    route = vars(message).get("route")
    return UNMATCHED if route is None else str(route.pattern.pattern)


class Metrics(Middleware):
    """Counts and times every answer; `exposition()` is what `metrics_path` serves."""

    def __init__(self) -> None:
        # Its own registry, so that two apps in one process never clash.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("brubeck_requests_total", "Requests answered.",
                                ("method", "route", "status"), registry=self.registry)
        self.duration = Histogram("brubeck_request_duration_seconds",
                                  "Time from taking a request to its answer.",
                                  ("method", "route"), registry=self.registry)

    def after(self, app: Brubeck, message: Request, response: Response) -> None:
        route = route_label(message)
        self.requests.labels(message.method, route, str(response.status_code)).inc()
        self.duration.labels(message.method, route).observe(elapsed_ms(message) / 1000.0)

    def exposition(self) -> bytes:
        """This process's metrics, or every worker's with `PROMETHEUS_MULTIPROC_DIR`."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def endpoint(self, application: Brubeck, message: Request) -> Response:
        """The function route at `metrics_path`."""
        return Response(self.exposition(), 200, None,
                        [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")])
