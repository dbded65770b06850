"""Asynchronous training through the HTTP API: 202 + Location, progress events, cancel, shutdown."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.deps import service_of
from app.main import create_app
from app.settings import Settings
from tests.conftest import finished_job, poll, seasonal_series, train_body, wait_ready


def read_events(client: TestClient, job_id: str, **headers: str) -> list[dict[str, Any]]:
    """The job's SSE stream, parsed (TestClient returns it once the job has finished)."""
    events, current = [], {}
    with client.stream("GET", f"/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
    return events


def wait_for_progress(client: TestClient, job_id: str) -> dict[str, Any]:
    """The job once it has reported an epoch; fails if it finishes first."""

    def reported(job: dict[str, Any]) -> bool:
        assert job["status"] in ("queued", "running"), job
        return bool(job["progress"] and job["progress"]["epoch"])

    job: dict[str, Any] = poll(
        lambda: client.get(f"/jobs/{job_id}").json(), reported, what="the job's first epoch"
    )
    return job


def long_body(name: str) -> dict[str, Any]:
    """A training that runs for seconds: 600 values, up to 1000 epochs."""
    series = seasonal_series(600, period=24, trend=0.001)
    return train_body(name, series=series, epochs=1000, test_size=24)


def test_train_without_waiting_answers_202_with_a_job_and_its_location(
    client: TestClient,
) -> None:
    response = client.post("/train", json=train_body("async", wait=False, epochs=3))
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] in ("queued", "running")
    assert job["kind"] == "train"
    assert job["subject"] == "async"
    assert job["links"]["events"] == f"/jobs/{job['id']}/events"

    events = read_events(client, job["id"])
    assert [int(e["id"]) for e in events] == list(range(1, len(events) + 1))
    statuses = [e["data"]["status"] for e in events if e["event"] == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    final = client.get(f"/jobs/{job['id']}").json()
    assert final["status"] == "succeeded"
    assert final["progress"]["fraction"] == 1.0
    # The result is the body a synchronous /train returns: the published version.
    assert final["result"] == client.get("/models/async").json()
    assert events[-1]["data"] == final

    # One progress event per epoch: the fit's epochs, then the refit's.
    training = final["result"]["training"]
    progress = [e["data"] for e in events if e["event"] == "progress"]
    assert len(progress) == training["epochs"] + training["refit_epochs"]
    fit = [p for p in progress if p["phase"] == "fit"]
    assert [p["epoch"] for p in fit] == list(range(1, training["epochs"] + 1))
    assert all(p["epochs_planned"] == 3 and p["train_loss"] > 0 for p in fit)
    assert all(p["validation_loss"] is not None for p in fit)
    assert [p["phase"] for p in progress[len(fit) :]] == ["refit"] * training["refit_epochs"]
    elapsed = [p["elapsed_seconds"] for p in progress]
    assert elapsed == sorted(elapsed)


def test_the_event_stream_resumes_after_last_event_id(client: TestClient) -> None:
    job = client.post("/train", json=train_body("resume", wait=False)).json()
    everything = read_events(client, job["id"])
    rest = read_events(client, job["id"], **{"Last-Event-ID": "3"})
    assert rest == everything[3:]


def test_invalid_trainings_are_refused_before_any_job_exists(client: TestClient) -> None:
    short = train_body("short", wait=False, series=[1.0, 2.0, 3.0])
    response = client.post("/train", json=short)
    assert response.status_code == 422
    assert "series needs at least" in response.json()["message"]
    assert client.post("/train", json=train_body(wait="no")).status_code == 422
    assert client.get("/jobs").json() == {"jobs": []}


def test_a_second_job_for_a_model_being_trained_conflicts(client: TestClient) -> None:
    first = client.post("/train", json=long_body("busy") | {"wait": False}).json()
    second = client.post("/train", json=train_body("busy", wait=False))
    assert second.status_code == 409
    assert first["id"] in second.json()["message"]
    client.delete(f"/jobs/{first['id']}")


def test_cancelling_a_running_training_stops_it_and_publishes_nothing(
    client: TestClient, store_dir: Path
) -> None:
    job = client.post("/train", json=long_body("cancelled") | {"wait": False}).json()
    running = wait_for_progress(client, job["id"])
    assert running["status"] == "running"

    response = client.delete(f"/jobs/{job['id']}")
    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    events = read_events(client, job["id"])
    final = events[-1]["data"]
    assert final["status"] == "cancelled"
    assert final["error"]["error"] == "cancelled"
    assert "nothing was published" in final["error"]["message"]
    assert final["result"] is None
    # Stopped early: far fewer epochs than planned.
    epochs = [e["data"]["epoch"] for e in events if e["event"] == "progress"]
    assert max(epochs) < 1000

    assert client.get("/models/cancelled").status_code == 404
    assert not list((store_dir / "cancelled").glob("v*.ckpt"))
    again = client.delete(f"/jobs/{job['id']}")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["message"]


def test_jobs_are_listed_newest_first_and_unknown_ones_are_404(client: TestClient) -> None:
    first = client.post("/train", json=train_body("one", wait=False)).json()
    read_events(client, first["id"])
    second = client.post("/train", json=train_body("two", wait=False)).json()
    read_events(client, second["id"])
    listed = client.get("/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [second["id"], first["id"]]

    missing = client.get("/jobs/" + "0" * 32)
    assert missing.status_code == 404
    assert missing.json()["error"] == "job_not_found"
    assert client.get("/jobs/0000/events").status_code == 422
    assert client.delete("/jobs/" + "f" * 32).status_code == 404


def test_shutdown_stops_a_running_job_marks_it_failed_and_publishes_nothing(
    settings: Settings, store_dir: Path
) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        wait_ready(client)
        job = client.post("/train", json=long_body("interrupted") | {"wait": False}).json()
        wait_for_progress(client, job["id"])
    state = service_of(app).jobs.get(job["id"])
    assert state.status == "failed"
    assert state.error.code == "shutdown"
    assert "nothing was published" in state.error.message
    assert not list((store_dir / "interrupted").glob("v*.ckpt"))

    # A restart forgets every job.
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        gone = client.get(f"/jobs/{job['id']}")
        assert gone.status_code == 404
        assert "forgotten when the server restarts" in gone.json()["message"]
        assert client.get("/models/interrupted").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [("/jobs", 200), ("/jobs/" + "a" * 32, 404), ("/jobs/" + "a" * 32 + "/events", 404)],
)
def test_job_routes_need_the_key_when_reads_do(path: str, status: int, settings: Settings) -> None:
    locked = Settings(model_store=settings.model_store, api_key="secret", api_key_reads=True)
    with TestClient(create_app(locked)) as client:
        wait_ready(client)
        assert client.get(path).status_code == 401
        authorised = client.get(path, headers={"Authorization": "Bearer secret"})
        assert authorised.status_code == status
        if status == 404:  # the key was accepted: the job itself is unknown
            assert authorised.json()["error"] == "job_not_found"


def long_backtest(name: str, **overrides: Any) -> dict[str, Any]:
    """A backtest that runs for many seconds: 20 refitted windows of a 1200-value series."""
    series = seasonal_series(1200, period=24, trend=0.001)
    body = train_body(name, series=series, epochs=50, n_windows=20, horizon=10, refit=True)
    del body["test_size"], body["promote"]  # not part of a backtest's meaning
    return body | overrides


def test_cancelling_a_running_backtest_stops_it(client: TestClient) -> None:
    """DELETE /jobs/{id} reaches the backtest's worker: it stops at its next batch and the job
    ends cancelled (a worker that ignored the request would finish and succeed)."""
    job = client.post("/backtest", json=long_backtest("replayed", wait=False)).json()
    poll(
        lambda: client.get(f"/jobs/{job['id']}").json()["status"],
        lambda status: status == "running",
        what="the backtest job to start",
    )
    assert client.delete(f"/jobs/{job['id']}").json()["cancel_requested"] is True
    final = finished_job(client, job["id"])
    assert final["status"] == "cancelled", final
    assert final["error"]["error"] == "cancelled"
    assert "backtest was cancelled before it finished" in final["error"]["message"]
    assert final["result"] is None


def test_a_backtest_job_waits_for_a_busy_training_process(store_dir: Path) -> None:
    """With the one training process busy, a backtest job waits for it (a synchronous
    /backtest would get 429), then runs and succeeds."""
    settings = Settings(
        model_store=store_dir,
        max_concurrent_trainings=1,
        max_epochs=100_000,
        max_training_seconds=3.0,
    )
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        executor = service_of(client.app).executor
        busy = long_body("busy") | {"epochs": 100_000}  # ends by its 3 s time budget
        responses: list[Any] = []
        thread = threading.Thread(target=lambda: responses.append(client.post("/train", json=busy)))
        thread.start()
        poll(lambda: executor.running, lambda n: n == 1, what="the training to start")
        refused = client.post("/backtest", json=train_body(n_windows=2, horizon=5, refit=False))
        job = client.post(
            "/backtest", json=train_body(n_windows=2, horizon=5, refit=False, wait=False)
        ).json()
        poll(lambda: executor.waiting, lambda n: n == 1, what="the backtest to wait")
        assert executor.running == 1
        thread.join()
        final = finished_job(client, job["id"])

    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_trainings"
    (trained,) = responses
    assert trained.status_code == 200, trained.text
    assert final["status"] == "succeeded", final
    assert final["result"]["trainings"] == 1
