from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServiceDep, WriteAccess
from app.api.responses import TRAIN_ERRORS
from app.api.schemas import ModelOut, TrainRequest
from app.api.schemas_jobs import JobOut, job_location
from app.jobs import JobState
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
async def train(body: TrainRequest, service: ServiceDep) -> ModelOut | JSONResponse:
    """Train a new version of a model on `series` and publish it; the old version serves until
    then. Holds out the last `test_size` points and reports the holdout scores. With
    `"wait": false` it answers 202 at once with a job to follow."""
    if body.wait:
        return ModelOut.of(await service.publishing.train(body))
    return accepted(await service.publishing.start(body, _render))


def _render(snapshot: ModelSnapshot) -> dict[str, Any]:
    return ModelOut.of(snapshot).model_dump(mode="json")


def accepted(state: JobState) -> JSONResponse:
    """202 with the queued job and its Location (also for other routes that start jobs)."""
    return JSONResponse(
        status_code=202,
        content=JobOut.from_state(state).model_dump(mode="json"),
        headers={"Location": job_location(state.id)},
    )
