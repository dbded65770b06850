"""Training cost is bounded per request (series length, epochs, seconds) and globally (a small
number of trainings at once): excess gets 422, 409 or 429 with a message."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.deps import service_of
from app.execution.local import TRAINING_NICENESS, _shared_pool
from app.forecasting import ModelConfig, TrainingConfig
from app.forecasting.training import train_model
from app.main import create_app
from tests.conftest import poll, wait_ready
from tests.reliability.conftest import tiny_settings, tiny_train_body


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"epochs": 4}, "epochs may be at most 3 (FORECAST_MAX_EPOCHS); got 4"),
        ({"series": [0.5] * 401}, "at most 400 values (FORECAST_MAX_SERIES_LENGTH); got 401"),
    ],
)
def test_per_request_caps_are_422(
    rel_store: Path, overrides: dict[str, object], fragment: str
) -> None:
    with TestClient(create_app(tiny_settings(rel_store))) as client:
        wait_ready(client)
        response = client.post("/train", json=tiny_train_body("capped", **overrides))
    assert response.status_code == 422
    assert fragment in response.json()["message"]
    assert not (rel_store / "capped").exists()


def test_the_time_budget_binds_inside_an_epoch_and_skips_the_refit() -> None:
    """With the budget already spent, an epoch stops after its first batch and the refit is
    skipped: `should_stop` (checked before every batch) is asked exactly twice."""
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return False

    series = np.sin(np.arange(2000) / 5)
    _, _, info = train_model(
        series[:1800],
        ModelConfig(window_size=8, hidden_size=4),
        TrainingConfig(max_epochs=50, max_seconds=1e-9, batch_size=1, seed=0),
        refit_series=series,
        should_stop=should_stop,
    )
    assert asked == 2  # one batch trained, then the deadline ended the epoch
    assert info.epochs == 1
    assert info.refit_epochs == 0
    assert info.stopped_by == "time_budget"


@pytest.mark.slow
def test_a_second_training_is_429_and_the_same_model_409(rel_store: Path) -> None:
    settings = tiny_settings(
        rel_store, max_concurrent_trainings=1, max_epochs=100_000, max_training_seconds=3.0
    )
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        executor = service_of(client.app).executor
        long_body = tiny_train_body(
            "busy", epochs=100_000, batch_size=1, series=[math.sin(i / 3) for i in range(400)]
        )
        responses: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: responses.append(client.post("/train", json=long_body))
        )
        thread.start()
        poll(lambda: executor.running, lambda n: n == 1, what="the long training to start")

        other = client.post("/train", json=tiny_train_body("other"))
        same = client.post("/train", json=tiny_train_body("busy"))
        serving = client.post("/forecast", json={"horizon": 3})
        thread.join(timeout=120)

    assert other.status_code == 429
    assert other.json()["error"] == "too_many_trainings"
    assert "FORECAST_MAX_CONCURRENT_TRAININGS" in other.json()["message"]
    assert same.status_code == 409
    assert "already being trained" in same.json()["message"]
    assert serving.status_code == 200
    (finished,) = responses
    assert finished.status_code == 200, finished.text
    assert finished.json()["training"]["stopped_by"] == "time_budget"


def test_training_processes_run_at_background_priority() -> None:
    """A training competing with the server for a core loses it: requests keep their latency."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    worker = _shared_pool(1).submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=120)
    assert worker == min(mine + TRAINING_NICENESS, 19)
    if hasattr(os, "SCHED_IDLE"):
        policy = _shared_pool(1).submit(os.sched_getscheduler, 0).result(timeout=120)
        assert policy == os.SCHED_IDLE
