"""The typed client against the ASGI app (sync through TestClient, async through ASGITransport),
and its retry and error mapping against a scripted transport."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.client import (
    AsyncForecastClient,
    ConflictError,
    ConnectionFailedError,
    ForecastClient,
    InvalidInputError,
    Job,
    JobCancelledError,
    JobFailedError,
    Model,
    ModelNotFoundError,
    NotReadyError,
    Progress,
    TooManyRequestsError,
    TrainingInProgressError,
    UnauthorizedError,
    types,
)
from app.client.calls import succeeded
from app.main import create_app
from app.settings import Settings
from tests.conftest import poll_async, seasonal_series, wait_ready

SERIES = seasonal_series()
SMALL = {"window_size": 12, "hidden_size": 8, "test_size": 12, "seed": 1, "promote": "always"}


@pytest.fixture
def api(client: TestClient) -> ForecastClient:
    return ForecastClient(http_client=client, retries=0)


def test_reading_calls_return_typed_results_equal_to_the_api(
    api: ForecastClient, client: TestClient
) -> None:
    assert api.health() is True
    models = api.models()
    assert [m.model for m in models] == ["default"]
    default = api.model("default")
    raw = client.get("/models/default").json()
    assert isinstance(default, Model)
    assert default.version == raw["version"]
    assert default.config.window_size == raw["config"]["window_size"]
    assert default.metrics.test_mse == raw["metrics"]["test_mse"]
    assert default.training.epochs == raw["training"]["epochs"]
    forecast = api.forecast(6)
    assert forecast.forecast == client.post("/forecast", json={"horizon": 6}).json()["forecast"]
    window = SERIES[:40]
    prediction = api.predict_next(window)
    assert prediction.prediction == pytest.approx(
        client.post("/predict-next", json={"window": window}).json()["prediction"]
    )
    data = api.series("default", horizon=4)
    assert len(data.forecast) == 4
    assert data.forecast == pytest.approx(api.forecast(4).forecast)
    svg = api.plot_svg("default", horizon=9, width=400, height=200)
    assert svg.startswith("<svg")
    assert 'data-forecast-points="9"' in svg


@pytest.mark.parametrize(
    ("client_type", "component"),
    [
        (types.Model, "ModelOut"),
        (types.ModelConfig, "ModelConfigOut"),
        (types.TrainingSummary, "TrainingOut"),
        (types.Metrics, "MetricsOut"),
        (types.Forecast, "ForecastResponse"),
        (types.Prediction, "PredictNextResponse"),
        (types.Job, "JobOut"),
        (types.Progress, "ProgressOut"),
        (types.JobError, "JobErrorOut"),
        (types.SeriesData, "SeriesOut"),
    ],
)
def test_the_client_types_only_read_fields_the_server_documents(
    client: TestClient, client_type: type, component: str
) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    documented = set(schemas[component]["properties"])
    assert set(client_type.model_fields) <= documented


def test_documented_errors_raise_specific_exceptions_with_the_servers_message(
    api: ForecastClient,
) -> None:
    with pytest.raises(ModelNotFoundError) as missing:
        api.model("nope")
    assert missing.value.status == 404
    assert missing.value.code == "model_not_found"
    assert "no model named 'nope'" in missing.value.message
    with pytest.raises(InvalidInputError, match="FORECAST_MAX_HORIZON") as invalid:
        api.forecast(5000)
    assert invalid.value.status == 422
    with pytest.raises(InvalidInputError, match="series needs at least"):
        api.train([1.0, 2.0, 3.0], model="short", **SMALL)


def test_train_synchronously_returns_the_published_model(api: ForecastClient) -> None:
    model = api.train(SERIES, model="sync", epochs=2, **SMALL)
    assert model.model == "sync"
    assert model.version == 1
    assert model.config.window_size == 12
    assert api.model("sync") == model


def test_train_with_a_progress_callback_runs_a_job_and_reports_each_epoch(
    api: ForecastClient,
) -> None:
    heard: list[Progress] = []
    model = api.train(SERIES, model="watched", epochs=3, progress=heard.append, **SMALL)
    assert model.model == "watched"
    assert [(p.phase, p.epoch) for p in heard] == [
        ("fit", 1),
        ("fit", 2),
        ("fit", 3),
        ("refit", 1),
        ("refit", 2),
    ]
    assert heard[-1].fraction == 1.0
    assert api.model("watched") == model
    jobs = api.jobs()
    assert jobs[0].subject == "watched"
    assert jobs[0].status == "succeeded"
    assert jobs[0].model() == model


def test_a_cancelled_job_is_reported_and_raises_when_its_result_is_needed(
    api: ForecastClient,
) -> None:
    long_series = [math.sin(i / 4) + 0.001 * i for i in range(600)]
    job = api.start_training(long_series, model="stopped", epochs=1000, **SMALL)
    assert job.status in ("queued", "running")
    with pytest.raises(ConflictError, match=job.id):
        api.start_training(long_series, model="stopped", **SMALL)
    asked = api.cancel_job(job.id)
    assert asked.cancel_requested or asked.status == "cancelled"
    final = api.wait_for_job(job.id)
    assert final.status == "cancelled"
    with pytest.raises(JobCancelledError, match="cancelled") as raised:
        succeeded(final)
    assert raised.value.job == final
    with pytest.raises(ModelNotFoundError):
        api.model("stopped")


def test_a_failed_job_raises_job_failed_with_its_message() -> None:
    job = Job.model_validate(
        {
            "id": "a" * 32,
            "kind": "train",
            "status": "failed",
            "created_at": "2026-01-01T00:00:00Z",
            "error": {"error": "training_failed", "message": "out of memory", "status": 500},
        }
    )
    with pytest.raises(JobFailedError, match="out of memory") as raised:
        succeeded(job)
    assert not isinstance(raised.value, JobCancelledError)


def test_the_api_key_is_sent_and_a_missing_one_is_unauthorized(settings: Settings) -> None:
    locked = Settings(model_store=settings.model_store, api_key="secret")
    with TestClient(create_app(locked)) as http:
        wait_ready(http)
        with pytest.raises(UnauthorizedError, match="API key"):
            ForecastClient(http_client=http).delete_model("nobody")
        with pytest.raises(ModelNotFoundError):
            ForecastClient(http_client=http, api_key="secret").delete_model("nobody")


def test_the_async_client_mirrors_the_sync_one(settings: Settings) -> None:
    async def scenario() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                api = AsyncForecastClient(http_client=http, retries=0)
                await poll_async(
                    lambda: http.get("/readyz"), lambda r: r.is_success, what="readiness"
                )
                assert [m.model for m in await api.models()] == ["default"]
                forecast = await api.forecast(3, model="default")
                assert len(forecast.forecast) == 3
                heard: list[Progress] = []
                model = await api.train(
                    SERIES, model="async", epochs=2, progress=heard.append, **SMALL
                )
                assert model == await api.model("async")
                assert [p.epoch for p in heard if p.phase == "fit"] == [1, 2]
                with pytest.raises(ModelNotFoundError):
                    await api.model("nope")

    asyncio.run(scenario())


# ----- retries, timeouts and error mapping, against a scripted transport ---------------------


def scripted(
    answers: list[httpx.Response | Exception], seen: list[httpx.Request]
) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle


def fake(answers: list[httpx.Response | Exception], **options: Any) -> tuple[Any, list[Any]]:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(scripted(answers, seen))
    return ForecastClient("http://fake", transport=transport, backoff=0, **options), seen


def error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "message": message})


def test_idempotent_calls_are_retried_on_503_and_connection_errors() -> None:
    api, seen = fake(
        [
            error(503, "not_ready", "starting"),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"models": []}),
        ],
        retries=2,
    )
    assert api.models() == []
    assert len(seen) == 3


def test_retries_give_up_with_the_last_error() -> None:
    api, seen = fake([error(503, "not_ready", "starting")] * 3, retries=2)
    with pytest.raises(NotReadyError, match="starting"):
        api.models()
    assert len(seen) == 3
    api, seen = fake([httpx.ConnectError("refused")] * 2, retries=1)
    with pytest.raises(ConnectionFailedError, match="refused"):
        api.forecast(3)
    assert len(seen) == 2


def test_training_is_never_retried() -> None:
    api, seen = fake([error(503, "not_ready", "starting")], retries=5)
    with pytest.raises(NotReadyError):
        api.train([1.0] * 50, model="x")
    assert len(seen) == 1
    api, seen = fake([httpx.ReadTimeout("slow")], retries=5)
    with pytest.raises(ConnectionFailedError):
        api.start_training([1.0] * 50, model="x")
    assert len(seen) == 1


def test_timeouts_are_passed_per_request() -> None:
    model = json.loads(
        json.dumps(
            {
                "model": "x",
                "version": 1,
                "created_at": "t",
                "config": {"window_size": 4, "hidden_size": 4, "num_layers": 1, "cell": "lstm"},
                "training": {
                    "epochs": 1,
                    "best_epoch": 1,
                    "refit_epochs": 0,
                    "seconds": 0.1,
                    "final_loss": 0.1,
                    "best_validation_loss": None,
                    "stopped_by": "max_epochs",
                },
                "metrics": {"test_size": 0, "test_mse": None},
                "series_length": 10,
            }
        )
    )
    api, seen = fake(
        [httpx.Response(200, json={"models": []}), httpx.Response(200, json=model)],
        timeout=3.0,
        train_timeout=900.0,
    )
    api.models()
    api.train([1.0] * 10, model="x")
    assert seen[0].extensions["timeout"]["read"] == 3.0
    assert seen[1].extensions["timeout"]["read"] == 900.0
    assert json.loads(seen[1].content) == {"series": [1.0] * 10, "model": "x"}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (404, "model_not_found", ModelNotFoundError),
        (409, "training_in_progress", TrainingInProgressError),
        (422, "invalid_input", InvalidInputError),
        (429, "too_many_jobs", TooManyRequestsError),
        (401, "unauthorized", UnauthorizedError),
    ],
)
def test_each_error_status_has_its_exception(status: int, code: str, kind: type) -> None:
    api, _ = fake([error(status, code, "the server's words")], retries=0)
    with pytest.raises(kind) as raised:
        api.model("x")
    assert raised.value.message == "the server's words"
    assert raised.value.code == code
    assert raised.value.status == status


def test_an_error_without_a_json_body_still_raises_with_the_text() -> None:
    api, _ = fake([httpx.Response(502, text="Bad Gateway from the proxy")], retries=0)
    with pytest.raises(Exception, match="Bad Gateway from the proxy"):
        api.models()
