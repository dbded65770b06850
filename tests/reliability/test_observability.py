"""GET /metrics (Prometheus text through prometheus-client) and the structured log lines: one
per request, one per training, and no series data in any of them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.logs import JsonFormatter
from app.main import create_app
from tests.conftest import wait_ready
from tests.reliability.conftest import API_KEY, AUTH, tiny_settings, tiny_train_body

# Values no log line may contain: they only occur in the series and windows sent.
SECRET_VALUES = [0.7315926535, -0.2718281828, 0.1414213562]


class JsonLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self, message: str) -> list[dict[str, object]]:
        parsed = [json.loads(line) for line in self.lines]
        return [entry for entry in parsed if entry["message"] == message]


@pytest.fixture
def observed(rel_store: Path) -> Iterator[tuple[TestClient, JsonLines]]:
    handler = JsonLines()
    app_logger = logging.getLogger("app")
    with TestClient(create_app(tiny_settings(rel_store, api_key=API_KEY))) as client:
        wait_ready(client)
        app_logger.addHandler(handler)  # after startup: configure_logging resets the handlers
        try:
            yield client, handler
        finally:
            app_logger.removeHandler(handler)


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_by_route_template_and_status(
    observed: tuple[TestClient, JsonLines],
) -> None:
    client, _ = observed
    window = [0.1] * 40
    client.post("/predict-next", json={"window": window})
    client.post("/predict-next", json={"window": window})
    client.post("/forecast", json={"horizon": 0})
    client.get("/models/no-such-model")
    client.get("/nowhere/at/all")
    client.post("/forecast", content=b" " * (64 * 1024 + 1), headers={"content-type": "x/y"})

    found = samples(client)
    requests = "forecast_http_requests_total"
    assert value(found, requests, method="POST", route="/predict-next", status="200") == 2
    assert value(found, requests, method="POST", route="/forecast", status="422") == 1
    assert value(found, requests, method="GET", route="/models/{name}", status="404") == 1
    assert value(found, requests, method="GET", route="<unmatched>", status="404") == 1
    assert value(found, requests, method="POST", route="/forecast", status="413") == 1
    duration = "forecast_http_request_duration_seconds"
    labels = {"method": "POST", "route": "/predict-next", "status": "200"}
    assert value(found, f"{duration}_count", **labels) == 2
    assert value(found, f"{duration}_bucket", **labels, le="+Inf") == 2
    assert value(found, f"{duration}_sum", **labels) > 0
    # Raw paths never become labels: the series count cannot grow with invented URLs.
    assert not any("no-such-model" in str(key) or "nowhere" in str(key) for key in found)
    assert value(found, "forecast_http_requests_in_flight") == 1  # the scrape itself


def test_metrics_track_trainings_and_served_versions(
    observed: tuple[TestClient, JsonLines],
) -> None:
    client, _ = observed
    assert client.post("/train", json=tiny_train_body("tracked"), headers=AUTH).status_code == 200
    refused = client.post("/train", json=tiny_train_body("tracked", epochs=99), headers=AUTH)
    assert refused.status_code == 422
    found = samples(client)
    assert value(found, "forecast_trainings_total", outcome="success") == 1
    assert value(found, "forecast_trainings_total", outcome="invalid_input") == 1
    assert value(found, "forecast_training_duration_seconds_count", outcome="success") == 1
    assert value(found, "forecast_training_duration_seconds_sum", outcome="success") > 0
    assert value(found, "forecast_model_served_version", model="tracked") == 1
    assert value(found, "forecast_model_served_version", model="default") == 1

    client.post("/train", json=tiny_train_body("tracked", seed=2), headers=AUTH)
    assert value(samples(client), "forecast_model_served_version", model="tracked") == 2
    client.delete("/models/tracked", headers=AUTH)
    gone = samples(client)
    assert ("forecast_model_served_version", frozenset({("model", "tracked")})) not in gone


def test_one_structured_line_per_request_keeping_the_request_id(
    observed: tuple[TestClient, JsonLines],
) -> None:
    client, logs = observed
    kept = client.get("/models/default", headers={"X-Request-ID": "trace-42.a:b_c"})
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert kept.headers["x-request-id"] == "trace-42.a:b_c"
    assert replaced.headers["x-request-id"] != "bad id with spaces"
    lines = logs.records("request")
    assert len(lines) == 2
    first, second = lines
    assert first["method"] == "GET"
    assert first["path"] == "/models/default"
    assert first["status"] == 200
    assert first["request_id"] == "trace-42.a:b_c"
    assert isinstance(first["duration_ms"], float)
    assert second["request_id"] == replaced.headers["x-request-id"]
    assert set(first) >= {"time", "level", "logger", "method", "path", "status", "duration_ms"}


def test_one_structured_line_per_training_and_no_series_data_anywhere(
    observed: tuple[TestClient, JsonLines],
) -> None:
    client, logs = observed
    series = [v for _ in range(32) for v in SECRET_VALUES]
    trained = client.post("/train", json=tiny_train_body("logged", series=series), headers=AUTH)
    assert trained.status_code == 200, trained.text
    client.post("/predict-next", json={"model": "logged", "window": series[:8]})
    client.post("/forecast", json={"model": "logged", "horizon": 2, "series": series[:20]})
    client.post("/predict-next", json={"model": "logged", "window": series[:7]})  # a 422

    (line,) = logs.records("trained")
    assert line["model"] == "logged"
    assert line["version"] == 1
    assert line["epochs"] == trained.json()["training"]["epochs"]
    assert isinstance(line["seconds"], float)
    metrics = line["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["test_mse"] == pytest.approx(trained.json()["metrics"]["test_mse"])
    assert all(isinstance(v, int | float) or v is None for v in metrics.values())
    everything = "\n".join(logs.lines)
    for secret in SECRET_VALUES:
        assert str(secret)[:8] not in everything
    assert API_KEY not in everything
