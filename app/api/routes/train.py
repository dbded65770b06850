from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import JobsDep, ServiceDep, WriteAccess
from app.api.responses import TRAIN_ERRORS
from app.api.schemas import ModelOut, TrainRequest
from app.api.schemas_jobs import JobOut, job_location
from app.jobs import JobState, training_work
from app.quality_rules import TimeInput, resolve_training_choices
from app.service import DEFAULT_MODEL, TrainSpec
from app.store import ModelSnapshot

router = APIRouter(tags=["train"])

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobOut,
        "description": "With wait=false: the training was queued as a job; follow it at the "
        "Location header (GET /jobs/{id}, GET /jobs/{id}/events).",
        "headers": {"Location": {"description": "/jobs/{id}", "schema": {"type": "string"}}},
    }
}


@router.post(
    "/train",
    response_model=ModelOut,
    dependencies=[WriteAccess],
    responses={**TRAIN_ERRORS, **ACCEPTED},
)
async def train(body: TrainRequest, service: ServiceDep, jobs: JobsDep) -> ModelOut | JSONResponse:
    """Train a new version of a model on `series` and publish it; the old version serves until
    then. Holds out the last `test_size` points and reports the holdout scores. With
    `"wait": false` it answers 202 at once with a job to follow."""
    spec = to_spec(body)
    if body.wait:
        return ModelOut.from_snapshot(await service.train(spec))
    service.check_training(spec)  # refuse now what the job would refuse later
    state = jobs.submit("train", training_work(service, spec, _render), subject=spec.name)
    return accepted(state)


def _render(snapshot: ModelSnapshot) -> dict[str, Any]:
    return ModelOut.from_snapshot(snapshot).model_dump(mode="json")


def accepted(state: JobState) -> JSONResponse:
    """202 with the queued job and its Location (also for other routes that start jobs)."""
    return JSONResponse(
        status_code=202,
        content=JobOut.from_state(state).model_dump(mode="json"),
        headers={"Location": job_location(state.id)},
    )


def to_spec(body: TrainRequest) -> TrainSpec:
    choices = resolve_training_choices(
        body.series,
        window_size=body.window_size,
        season_length=body.season_length,
        difference=body.difference,
        test_size=body.test_size,
        promote=body.promote,
        time=TimeInput(body.timestamps, body.start, body.freq),
        tutorial=body.model == DEFAULT_MODEL,
    )
    return TrainSpec(
        name=body.model,
        series=body.series,
        model_config=choices.model_config(
            hidden_size=body.hidden_size, num_layers=body.num_layers, cell=body.cell
        ),
        test_size=body.test_size,
        season_length=choices.season_length.value,
        epochs=body.epochs,
        learning_rate=body.learning_rate,
        batch_size=body.batch_size,
        seed=body.seed,
        promote=choices.promote,
        choices=choices,
    )
