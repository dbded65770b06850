"""The HTTP contract of /train, /predict-next, /forecast, /models, /healthz, /readyz, /docs."""

from __future__ import annotations

import asyncio
import math
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.deps import service_of
from app.main import create_app
from app.settings import Settings
from tests.conftest import train_body, wait_ready


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_default_model_is_the_tutorials_configuration(client: TestClient) -> None:
    model = client.get("/models/default").json()
    assert model["config"] == {
        "window_size": 40,
        "hidden_size": 50,
        "num_layers": 1,
        "cell": "lstm",
        "difference": False,
    }
    assert model["series_length"] == 800
    assert model["version"] == 1
    assert model["metrics"]["test_size"] == 40
    assert model["metrics"]["season_length"] == 40


def test_startup_trains_the_default_model_when_the_store_is_empty(tmp_path: Path) -> None:
    app = create_app(Settings(model_store=tmp_path, default_max_epochs=1))
    with TestClient(app) as client:
        wait_ready(client)
        assert client.get("/models/default").json()["training"]["epochs"] == 1
    assert (tmp_path / "default" / "CURRENT").read_text().strip() == "1"
    assert (tmp_path / "default" / "v000001.ckpt").exists()


def test_train_predict_forecast_round_trip(client: TestClient) -> None:
    response = client.post("/train", json=train_body("sales"))
    assert response.status_code == 200, response.text
    trained = response.json()
    assert trained["model"] == "sales"
    assert trained["version"] == 1
    assert trained["config"]["window_size"] == 12
    assert trained["training"]["epochs"] == 2
    assert set(trained["metrics"]) >= {
        "test_mse",
        "test_mae",
        "test_rmse",
        "naive_mse",
        "seasonal_naive_mse",
        "mase",
    }
    assert trained["metrics"]["test_mse"] >= 0
    assert trained["created_at"].endswith("Z")

    window = [math.sin(i) for i in range(12)]
    prediction = client.post("/predict-next", json={"model": "sales", "window": window}).json()
    assert prediction["model"] == "sales"
    assert prediction["version"] == 1
    assert isinstance(prediction["prediction"], float)

    forecast = client.post("/forecast", json={"model": "sales", "horizon": 7}).json()
    assert forecast["horizon"] == 7
    assert len(forecast["forecast"]) == 7

    retrained = client.post("/train", json=train_body("sales", seed=2)).json()
    assert retrained["version"] == 2
    assert client.get("/models/sales").json()["version"] == 2
    names = [m["model"] for m in client.get("/models").json()["models"]]
    assert names == ["default", "sales"]


def test_test_size_zero_gives_null_metrics(client: TestClient) -> None:
    body = train_body("nometrics", test_size=0)
    metrics = client.post("/train", json=body).json()["metrics"]
    assert metrics["test_mse"] is None
    assert metrics["mase"] is None
    assert metrics["test_size"] == 0


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=st.lists(st.floats(-5, 5, allow_nan=False), min_size=40, max_size=60),
    horizon=st.integers(1, 50),
)
def test_forecast_equals_repeated_predict_next(
    client: TestClient, history: list[float], horizon: int
) -> None:
    forecast = client.post("/forecast", json={"horizon": horizon, "series": history}).json()
    assert forecast["horizon"] == horizon
    series = list(history)
    for value in forecast["forecast"]:
        step = client.post("/predict-next", json={"window": series[-40:]}).json()
        assert step["prediction"] == pytest.approx(value, abs=1e-5)
        series.append(value)


def test_forecast_without_series_continues_the_training_series(client: TestClient) -> None:
    default = client.post("/forecast", json={"horizon": 10}).json()["forecast"]
    sine = [math.sin(x * 2 * 3.1416 / 40) for x in range(800)]
    explicit = client.post("/forecast", json={"horizon": 10, "series": sine}).json()["forecast"]
    assert default == pytest.approx(explicit, abs=1e-9)
    # The default model continues the sine: the next values follow sin(800..809).
    truth = [math.sin(x * 2 * 3.1416 / 40) for x in range(800, 810)]
    assert np.max(np.abs(np.array(default) - truth)) < 0.2


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/predict-next", {"window": [0.1] * 39}, 422, "exactly window_size=40 values"),
        ("/predict-next", {"window": [0.1] * 41}, 422, "got 41"),
        ("/predict-next", {"window": [0.1] * 40, "model": "nope"}, 404, "no model named 'nope'"),
        ("/predict-next", {"window": [True] * 40}, 422, "valid number"),
        ("/predict-next", {"window": ["1.0"] * 40}, 422, "valid number"),
        ("/predict-next", {"window": [0.1] * 40, "extra": 1}, 422, "Extra inputs"),
        ("/forecast", {"horizon": 0}, 422, "greater than or equal to 1"),
        ("/forecast", {"horizon": -3}, 422, "greater than or equal to 1"),
        ("/forecast", {"horizon": 2001}, 422, "at most 2000"),
        ("/forecast", {"horizon": 5, "series": [0.0] * 39}, 422, "at least window_size=40"),
        ("/forecast", {"horizon": 5, "series": [0.0] * 5001}, 422, "at most 5000 values"),
        ("/forecast", {"horizon": 5, "model": "Upper"}, 422, "should match pattern"),
        ("/forecast", {"horizon": 5, "model": "../etc"}, 422, "should match pattern"),
        ("/forecast", {"horizon": 5, "model": "a" * 65}, 422, "should match pattern"),
        ("/train", {"series": [1.0] * 80}, 422, "at least 81 values"),
        (
            "/train",
            {"series": [1.0] * 50, "model": "x", "window_size": 5, "epochs": 1001},
            422,
            "epochs may be at most",
        ),
        ("/train", {"series": [1.0] * 900, "hidden_size": 8}, 422, "tutorial's configuration"),
        ("/train", {"series": [1.0, 2.0], "cell": "transformer"}, 422, "cell"),
        ("/train", {}, 422, "body.series: Field required"),
    ],
)
def test_bad_requests_get_clear_errors(
    client: TestClient, path: str, body: dict[str, object], status: int, fragment: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) >= {"error", "message"}
    assert fragment in payload["message"], payload["message"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_refused(client: TestClient, literal: bytes) -> None:
    body = b'{"window": [' + b"0.1, " * 39 + literal + b"]}"
    response = client.post(
        "/predict-next", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "finite number" in response.json()["message"]


def test_delete_model(client: TestClient, store_dir: Path) -> None:
    client.post("/train", json=train_body("gone"))
    assert (store_dir / "gone").exists()
    assert client.delete("/models/gone").status_code == 204
    assert client.get("/models/gone").status_code == 404
    assert not (store_dir / "gone").exists()
    assert client.delete("/models/gone").status_code == 404
    assert client.delete("/models/default").status_code == 409


def test_versions_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        client.post("/train", json=train_body("keep"))
        second = client.post("/train", json=train_body("keep", seed=5)).json()
        forecast = client.post("/forecast", json={"model": "keep", "horizon": 5}).json()
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.get("/models/keep").json()["version"] == second["version"] == 2
        again = client.post("/forecast", json={"model": "keep", "horizon": 5}).json()
        assert again == forecast
        assert client.post("/train", json=train_body("keep")).json()["version"] == 3


def test_corrupted_checkpoint_at_startup_is_skipped_and_default_retrained(
    settings: Settings, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = store_dir / "default" / "v000001.ckpt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    shutil.copytree(store_dir / "default", store_dir / "other")
    (store_dir / "other" / "v000001.ckpt").write_bytes(b"garbage")
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.get("/models/default").json()["version"] == 2
        assert client.get("/models/other").status_code == 404
        assert client.get("/healthz").status_code == 200


def test_predictions_keep_flowing_during_a_retrain(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.post("/train", json=train_body("busy"))
    # Long enough (seconds) to overlap many forecasts, short enough for CI.
    long_body = train_body("busy", epochs=15, series=[math.sin(i / 3) for i in range(1200)])
    executor = service_of(client.app).executor
    train_in_process = executor.train
    started, trained, release = threading.Event(), threading.Event(), threading.Event()

    async def observed(*args: Any, **kwargs: Any) -> Any:
        """The real training, then held (with the model's lock) until the test releases it."""
        started.set()
        checkpoint = await train_in_process(*args, **kwargs)
        trained.set()
        await asyncio.to_thread(release.wait, 120)
        return checkpoint

    monkeypatch.setattr(executor, "train", observed)
    responses: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: responses.append(client.post("/train", json=long_body))
    )
    thread.start()
    assert started.wait(120), "the retrain never reached its training process"
    versions = []
    while not versions or not trained.is_set():  # while the retrain runs in its process
        response = client.post("/forecast", json={"model": "busy", "horizon": 3})
        assert response.status_code == 200
        versions.append(response.json()["version"])
    conflict = client.post("/train", json=train_body("busy"))  # the retrain holds the lock
    release.set()
    thread.join()

    assert set(versions) == {1}, "the old version kept serving while the retrain ran"
    assert conflict.status_code == 409
    assert "already being trained" in conflict.json()["message"]
    (retrained,) = responses
    assert retrained.status_code == 200
    assert client.post("/forecast", json={"model": "busy", "horizon": 3}).json()["version"] == 2


def test_body_over_the_limit_is_refused(store_dir: Path) -> None:
    settings = Settings(model_store=store_dir, max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        big = {"window": [0.123456789] * 400}
        response = client.post("/predict-next", json=big)
        assert response.status_code == 413
        assert "at most 2048 bytes" in response.json()["message"]

        def chunks():  # no Content-Length: sent chunked
            for _ in range(10):
                yield b" " * 1000

        chunked = client.post(
            "/predict-next", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413
        assert client.get("/healthz").status_code == 200


def test_docs_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert client.get("/favicon.ico").headers["content-type"] == "image/png"
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {"/train", "/predict-next", "/forecast", "/models", "/models/{name}"} <= set(
        schema["paths"]
    )


def test_request_id_is_kept_and_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 32
