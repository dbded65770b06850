"""Hostile inputs, one row each: the documented 4xx with a clear message, then the service is
still healthy and no model (in memory or on disk) has changed."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import wait_ready
from tests.reliability.conftest import copy_store, store_fingerprint, tiny_settings, tiny_train_body

MAX_SERIES = 400  # tiny_settings' FORECAST_MAX_SERIES_LENGTH
MAX_HORIZON = 200  # tiny_settings' FORECAST_MAX_HORIZON
MAX_BODY = 64 * 1024  # tiny_settings' FORECAST_MAX_BODY_BYTES
WINDOW = 8  # the window of the model "small" trained below
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    fragment: str  # must appear in the error message
    json: object = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))


def sine(n: int) -> list[float]:
    return [math.sin(i * 2 * math.pi / 12) for i in range(n)]


def raw_window(literal: str) -> bytes:
    """A /predict-next body whose last window value is a raw JSON literal."""
    values = ", ".join(["0.1"] * (WINDOW - 1) + [literal])
    return f'{{"model": "small", "window": [{values}]}}'.encode()


def nested(depth: int) -> bytes:
    return b'{"model": "small", "window": ' + b"[" * depth + b"]" * depth + b"}"


def chunks(total: int) -> Iterator[bytes]:
    """A body with no Content-Length: the client sends it chunked."""
    for _ in range(total // 4096):
        yield b" " * 4096


CASES = [
    # Non-finite literals (Python's JSON parser accepts them; the schema must not).
    Case("nan", "POST", "/predict-next", 422, "finite number", content=raw_window("NaN")),
    Case("infinity", "POST", "/predict-next", 422, "finite number", content=raw_window("Infinity")),
    Case(
        "-infinity-train",
        "POST",
        "/train",
        422,
        "finite number",
        content=json.dumps(tiny_train_body("small")).replace("0.0,", "-Infinity,", 1).encode(),
    ),
    # Extremes: refused before any scaling or training could overflow.
    Case(
        "1e308",
        "POST",
        "/predict-next",
        422,
        "less than or equal to 1e+100",
        json={"model": "small", "window": [1e308] * WINDOW},
    ),
    Case(
        "-1e308-train",
        "POST",
        "/train",
        422,
        "greater than or equal to -1e+100",
        json=tiny_train_body("small", series=[-1e308, 1e308] * 48),
    ),
    Case(
        "1e308-forecast",
        "POST",
        "/forecast",
        422,
        "less than or equal to 1e+100",
        json={"model": "small", "horizon": 3, "series": [1e308] * WINDOW},
    ),
    Case(
        "far-outside-the-model",
        "POST",
        "/predict-next",
        422,
        "values must lie between",
        json={"model": "small", "window": [0.5] * (WINDOW - 1) + [1e50]},
    ),
    # Wrong JSON types: strict, no coercion.
    Case(
        "boolean-values",
        "POST",
        "/predict-next",
        422,
        "valid number",
        json={"model": "small", "window": [True] * WINDOW},
    ),
    Case(
        "numeric-strings",
        "POST",
        "/predict-next",
        422,
        "valid number",
        json={"model": "small", "window": ["0.5"] * WINDOW},
    ),
    Case(
        "boolean-horizon",
        "POST",
        "/forecast",
        422,
        "valid integer",
        json={"model": "small", "horizon": True},
    ),
    Case(
        "string-horizon",
        "POST",
        "/forecast",
        422,
        "valid integer",
        json={"model": "small", "horizon": "5"},
    ),
    # Lengths.
    Case(
        "empty-series",
        "POST",
        "/train",
        422,
        "at least 2 items",
        json=tiny_train_body("small", series=[]),
    ),
    Case(
        "one-element-series",
        "POST",
        "/train",
        422,
        "at least 2 items",
        json=tiny_train_body("small", series=[1.0]),
    ),
    Case(
        "empty-window",
        "POST",
        "/predict-next",
        422,
        "at least 1 item",
        json={"model": "small", "window": []},
    ),
    Case(
        "empty-forecast-series",
        "POST",
        "/forecast",
        422,
        "at least 1 item",
        json={"model": "small", "horizon": 3, "series": []},
    ),
    Case(
        "series-too-short-for-the-window",
        "POST",
        "/train",
        422,
        "needs at least 17 values",
        json=tiny_train_body("small", series=sine(16)),
    ),
    Case(
        "train-series-one-past-the-max",
        "POST",
        "/train",
        422,
        f"at most {MAX_SERIES} values",
        json=tiny_train_body("small", series=sine(MAX_SERIES + 1)),
    ),
    Case(
        "forecast-series-one-past-the-max",
        "POST",
        "/forecast",
        422,
        f"at most {MAX_SERIES} values",
        json={"model": "small", "horizon": 3, "series": sine(MAX_SERIES + 1)},
    ),
    Case(
        "horizon-0",
        "POST",
        "/forecast",
        422,
        "greater than or equal to 1",
        json={"model": "small", "horizon": 0},
    ),
    Case(
        "horizon-negative",
        "POST",
        "/forecast",
        422,
        "greater than or equal to 1",
        json={"model": "small", "horizon": -5},
    ),
    Case(
        "horizon-over-the-cap",
        "POST",
        "/forecast",
        422,
        f"at most {MAX_HORIZON}",
        json={"model": "small", "horizon": MAX_HORIZON + 1},
    ),
    Case(
        "window-one-short",
        "POST",
        "/predict-next",
        422,
        f"exactly window_size={WINDOW}",
        json={"model": "small", "window": sine(WINDOW - 1)},
    ),
    Case(
        "window-one-too-long",
        "POST",
        "/predict-next",
        422,
        f"got {WINDOW + 1}",
        json={"model": "small", "window": sine(WINDOW + 1)},
    ),
    # Malformed bodies.
    Case(
        "nested-lists",
        "POST",
        "/predict-next",
        422,
        "valid number",
        content=nested(50),
        headers=JSON,
    ),
    Case(
        "deeply-nested-json",
        "POST",
        "/predict-next",
        400,
        "nested too deeply",
        content=nested(5000),
        headers=JSON,
    ),
    Case(
        "over-the-size-limit",
        "POST",
        "/forecast",
        413,
        f"at most {MAX_BODY} bytes",
        content=b" " * (MAX_BODY + 1),
        headers=JSON,
    ),
    Case(
        "invalid-utf8",
        "POST",
        "/predict-next",
        400,
        "UTF-8",
        content=b'{"model": "sm\xffall", "window": [0.1]}',
        headers=JSON,
    ),
    Case(
        "wrong-content-type",
        "POST",
        "/predict-next",
        422,
        "Content-Type: application/json",
        content=json.dumps({"model": "small", "window": sine(WINDOW)}).encode(),
        headers={"content-type": "text/plain"},
    ),
    Case(
        "form-content-type",
        "POST",
        "/train",
        422,
        "Content-Type: application/json",
        content=b"model=small&series=1,2,3",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    # Model names, in bodies and in paths.
    *[
        Case(
            f"body-name-{label}",
            "POST",
            "/train",
            422,
            "should match pattern",
            json=tiny_train_body(name),
        )
        for label, name in [
            ("dotdot", "../small"),
            ("slash", "a/b"),
            ("encoded-dotdot", "%2e%2e"),
            ("upper", "Small"),
            ("65-chars", "a" * 65),
            ("unicode", "smäll"),
            ("empty", ""),
        ]
    ],
    Case("path-encoded-dotdot", "GET", "/models/%2e%2e", 422, "should match pattern"),
    Case("path-upper", "GET", "/models/Small", 422, "should match pattern"),
    Case("path-65-chars", "GET", "/models/" + "a" * 65, 422, "should match pattern"),
    Case("path-unicode", "GET", "/models/sm%C3%A4ll", 422, "should match pattern"),
    Case("path-slash", "GET", "/models/a%2Fb", 404, "Not Found"),
    Case("delete-encoded-dotdot", "DELETE", "/models/%2e%2e", 422, "should match pattern"),
    Case("delete-dotdot-slash", "DELETE", "/models/..%2Fsmall", 404, "Not Found"),
]


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, trained_store: Path
) -> Iterator[tuple[TestClient, Path]]:
    store = copy_store(trained_store, tmp_path_factory.mktemp("hostile") / "store")
    with TestClient(create_app(tiny_settings(store))) as client:
        wait_ready(client)
        trained = client.post("/train", json=tiny_train_body("small"))
        assert trained.status_code == 200, trained.text
        yield client, store


def models(client: TestClient) -> list[tuple[str, int]]:
    return [(m["model"], m["version"]) for m in client.get("/models").json()["models"]]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_gets_a_clear_4xx_and_changes_nothing(
    hostile: tuple[TestClient, Path], case: Case
) -> None:
    client, store = hostile
    before_models, before_files = models(client), store_fingerprint(store)

    response = client.request(
        case.method, case.path, json=case.json, content=case.content, headers=case.headers
    )

    assert response.status_code == case.status, response.text
    error = response.json()
    assert set(error) >= {"error", "message"}, error
    assert case.fragment in error["message"], error["message"]
    assert client.get("/healthz").status_code == 200
    assert models(client) == before_models
    assert store_fingerprint(store) == before_files


def test_chunked_body_over_the_limit_is_cut_off(hostile: tuple[TestClient, Path]) -> None:
    client, store = hostile
    before = store_fingerprint(store)
    response = client.post("/train", content=chunks(4 * MAX_BODY), headers=JSON)
    assert response.status_code == 413
    assert f"more than {MAX_BODY} bytes sent" in response.json()["message"]
    assert client.get("/healthz").status_code == 200
    assert store_fingerprint(store) == before


def test_the_limits_themselves_are_accepted(hostile: tuple[TestClient, Path]) -> None:
    """One value under each refusal above is served, so the table tests the limits."""
    client, _ = hostile
    at_max = client.post(
        "/forecast", json={"model": "small", "horizon": MAX_HORIZON, "series": sine(MAX_SERIES)}
    )
    assert at_max.status_code == 200, at_max.text
    assert len(at_max.json()["forecast"]) == MAX_HORIZON
    assert all(math.isfinite(v) for v in at_max.json()["forecast"])
    window = client.post("/predict-next", json={"model": "small", "window": sine(WINDOW)})
    assert window.status_code == 200, window.text


def test_extreme_but_allowed_values_train_without_overflow(
    hostile: tuple[TestClient, Path],
) -> None:
    """±1e100 (the schema's bound) trains, scores and forecasts with finite numbers only
    (the suite turns numpy's overflow warnings into errors)."""
    client, _ = hostile
    series = [1e100 * math.sin(i * 2 * math.pi / 12) for i in range(96)]
    trained = client.post("/train", json=tiny_train_body("huge", series=series))
    assert trained.status_code == 200, trained.text
    scores = [v for v in trained.json()["metrics"].values() if isinstance(v, float)]
    assert scores
    assert all(math.isfinite(v) for v in scores)
    forecast = client.post("/forecast", json={"model": "huge", "horizon": 12}).json()["forecast"]
    assert all(math.isfinite(v) and abs(v) < 1e102 for v in forecast)


def test_a_constant_series_trains_and_forecasts_the_constant(
    hostile: tuple[TestClient, Path],
) -> None:
    """A constant series is valid data (a stuck sensor, no sales): it is learned, not refused;
    the scaler's zero range must not divide by zero."""
    client, _ = hostile
    trained = client.post("/train", json=tiny_train_body("flat", series=[7.5] * 96, epochs=3))
    assert trained.status_code == 200, trained.text
    forecast = client.post("/forecast", json={"model": "flat", "horizon": 5}).json()["forecast"]
    assert forecast == pytest.approx([7.5] * 5, abs=1.5)
