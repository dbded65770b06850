"""Prometheus metrics of one service instance, in a registry of its own.

Each app gets its own `CollectorRegistry` (tests build many apps in one process; the global
registry would refuse the second). Label values are bounded: routes are templates
(`/models/{name}`, never the raw path), unknown paths share one label and unknown methods
another, so a client cannot grow the series count by inventing URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

UNMATCHED_ROUTE = "<unmatched>"
# The classic text format (what generate_latest writes by default), which every scraper reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Requests: sub-millisecond predictions up to multi-second uploads and synchronous trainings.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TRAINING_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

ServedVersions = Callable[[], Iterable[tuple[str, int]]]


class _ServedVersionCollector(Collector):
    """`forecast_model_served_version{model}`, read from the store at scrape time, so models
    another replica published or deleted show up as they are on disk."""

    def __init__(self, served_versions: ServedVersions) -> None:
        self._served_versions = served_versions

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "forecast_model_served_version",
            "Version of each model currently served.",
            labels=["model"],
        )
        for name, version in self._served_versions():
            family.add_metric([name], float(version))
        yield family


class ServiceMetrics:
    """Request, training and model metrics; `render()` gives the text exposition."""

    def __init__(self, served_versions: ServedVersions | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "forecast_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "forecast_http_request_duration_seconds",
            "Time from request start to the last response byte, by route template and status.",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "forecast_http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=self.registry,
        )
        self.trainings = Counter(
            "forecast_trainings",
            "Trainings finished, by outcome (success or the error code that ended them).",
            ["outcome"],
            registry=self.registry,
        )
        self.training_seconds = Histogram(
            "forecast_training_duration_seconds",
            "Wall time of a training, from request to published checkpoint, by outcome.",
            ["outcome"],
            buckets=TRAINING_BUCKETS,
            registry=self.registry,
        )
        if served_versions is not None:
            self.registry.register(_ServedVersionCollector(served_versions))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.request_seconds.labels(*labels).observe(seconds)

    def observe_training(self, outcome: str, seconds: float) -> None:
        self.trainings.labels(outcome).inc()
        self.training_seconds.labels(outcome).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE
