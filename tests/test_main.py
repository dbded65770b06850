"""`create_app(settings)` resolves everything when it is called; importing app.main reads no
environment, and `app.main:app` (uvicorn's older entry) builds the app from it on first use."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

import app.main
from app.api.deps import service_of
from app.settings import Settings
from tests.conftest import finished_job, train_body, wait_ready


def test_importing_the_module_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORECAST_MAX_EPOCHS", "not a number")
    importlib.reload(app.main)  # would raise if Settings were read at import
    with pytest.raises(ValidationError, match="max_epochs"):
        app.main.create_app()  # read now, when the app is created


def test_the_app_attribute_is_built_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FORECAST_MODEL_STORE", str(tmp_path))
    monkeypatch.setenv("FORECAST_MAX_HORIZON", "123")
    main = importlib.reload(app.main)
    built = main.app
    assert built is main.app
    settings = service_of(built).settings
    assert (settings.model_store, settings.max_horizon) == (tmp_path, 123)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = main.nothing


def test_the_app_is_wired_to_the_settings_it_was_created_with(tmp_path: Path) -> None:
    settings = Settings(model_store=tmp_path, max_concurrent_trainings=3, max_jobs=7)
    service = service_of(app.main.create_app(settings))
    assert service.settings is settings
    assert service.store.root == tmp_path
    assert service.executor.capacity == 3
    assert service.jobs.max_jobs == 7
    assert not service.ready  # nothing runs until the lifespan starts it


def test_an_app_started_again_serves_and_takes_jobs_again(settings: Settings) -> None:
    """A lifespan after a shutdown starts the service as new (another event loop, no jobs)."""
    application = app.main.create_app(settings)
    for name in ("first", "again"):
        with TestClient(application) as client:
            wait_ready(client)
            assert client.get("/jobs").json() == {"jobs": []}
            job = client.post("/train", json=train_body(name, wait=False)).json()
            assert finished_job(client, job["id"])["status"] == "succeeded"
            assert client.get(f"/models/{name}").status_code == 200
