"""Background jobs: read them, follow their progress as Server-Sent Events, cancel them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.api.deps import ReadAccess, ServiceDep, WriteAccess
from app.api.schemas import ErrorResponse
from app.api.schemas_jobs import (
    JOB_ID_EXAMPLE,
    JOB_ID_PATTERN,
    JobList,
    JobOut,
    ProgressOut,
)
from app.jobs import JobEvent

router = APIRouter(prefix="/jobs", tags=["jobs"])
JobIdPath = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description="A job id.", examples=[JOB_ID_EXAMPLE])
]
SSE_PING_SECONDS = 15


def _errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ErrorResponse, "description": text}
        for status, text in descriptions.items()
    }


_UNAUTHORIZED = "Missing or wrong API key (only when FORECAST_API_KEY is set)."
_NOT_FOUND = "No job with that id (finished jobs are forgotten after a while and on restart)."
_INVALID = "Invalid job id or header: the message says what was expected and what arrived."

EVENTS_DOC = """\
One event per change, numbered (`id:`) from 1, replayed from the start (or after the
`Last-Event-ID` header) and then followed live; the stream ends after the job finishes.

* `event: status` - `data:` the whole job (JobOut) after a status change; the last one carries the
  `result` or `error`.
* `event: progress` - `data:` the job's progress (ProgressOut), one per epoch of a training.
"""
_EVENTS_EXAMPLE = (
    'id: 1\nevent: status\ndata: {"id": "...", "status": "queued", ...}\n\n'
    'id: 3\nevent: progress\ndata: {"phase": "fit", "epoch": 1, "epochs_planned": 12, '
    '"train_loss": 0.21, "validation_loss": 0.09, "elapsed_seconds": 1.3, "eta_seconds": 6.2, '
    '"fraction": 0.17, ...}\n\n'
)


@router.get(
    "", response_model=JobList, dependencies=[ReadAccess], responses=_errors({401: _UNAUTHORIZED})
)
async def list_jobs(service: ServiceDep) -> JobList:
    """Recent jobs, newest first: the unfinished ones and those finished lately."""
    return JobList(jobs=[JobOut.from_state(state) for state in service.jobs.list()])


@router.get(
    "/{job_id}",
    response_model=JobOut,
    dependencies=[ReadAccess],
    responses=_errors({401: _UNAUTHORIZED, 404: _NOT_FOUND, 422: _INVALID}),
)
async def get_job(job_id: JobIdPath, service: ServiceDep) -> JobOut:
    """A job's status and progress; its result when it succeeded, its error when it failed."""
    return JobOut.from_state(service.jobs.get(job_id))


@router.delete(
    "/{job_id}",
    response_model=JobOut,
    dependencies=[WriteAccess],
    responses=_errors(
        {
            401: _UNAUTHORIZED,
            404: _NOT_FOUND,
            409: "The job has already finished.",
            422: _INVALID,
        }
    ),
)
async def cancel_job(job_id: JobIdPath, service: ServiceDep) -> JobOut:
    """Cancel a job: a queued one at once (`cancelled`), a running one at its next batch
    (`cancel_requested` until it stops). Nothing of a cancelled training is published."""
    return JobOut.from_state(await service.jobs.cancel(job_id))


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    dependencies=[ReadAccess],
    responses={
        200: {
            "description": EVENTS_DOC,
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "example": _EVENTS_EXAMPLE}
            },
        },
        **_errors({401: _UNAUTHORIZED, 404: _NOT_FOUND, 422: _INVALID}),
    },
)
async def job_events(
    job_id: JobIdPath,
    service: ServiceDep,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            description="Resume after this event id (sent by EventSource on reconnect).",
        ),
    ] = None,
) -> EventSourceResponse:
    """Live progress as Server-Sent Events, one per epoch, until the job finishes."""
    events = service.jobs.events(job_id, after=last_event_id or 0)
    return EventSourceResponse(_render(events), ping=SSE_PING_SECONDS)


async def _render(events: AsyncIterator[JobEvent]) -> AsyncIterator[ServerSentEvent]:
    async for event in events:
        progress = event.state.progress
        if event.kind == "progress" and progress is not None:
            data = ProgressOut(**dataclasses.asdict(progress)).model_dump_json()
        else:
            data = JobOut.from_state(event.state).model_dump_json()
        yield ServerSentEvent(data=data, event=event.kind, id=str(event.seq))
