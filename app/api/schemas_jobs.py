"""Bodies of the background-job endpoints: a job, its progress, its error; the job list."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.jobs import JobState

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
JOB_ID_EXAMPLE = "3f2b6c1e9a7d4e0f8b5c2a1d6e9f0b3c"


class ProgressOut(BaseModel):
    """The latest progress of a running job (one update per epoch for a training)."""

    phase: str = Field(
        description="'starting' until the first epoch; then 'fit' (epochs with model selection) "
        "and 'refit' (the final epochs on the whole series) for a training.",
        examples=["fit"],
    )
    epoch: int | None = Field(None, description="Epochs done in this phase.", examples=[3])
    epochs_planned: int | None = Field(
        None, description="Epochs this phase runs at most (early stopping may end it sooner)."
    )
    time_budget_seconds: float | None = Field(
        None, description="The training's time budget (FORECAST_MAX_TRAINING_SECONDS)."
    )
    train_loss: float | None = Field(None, description="Training MSE of the epoch, scaled units.")
    validation_loss: float | None = Field(
        None, description="Validation MSE of the epoch, scaled units (null in 'refit')."
    )
    elapsed_seconds: float = Field(description="Seconds since the job started running.")
    eta_seconds: float | None = Field(
        None, description="Estimated seconds left (an upper estimate: early stopping may come)."
    )
    fraction: float | None = Field(None, description="Estimated share done, 0 to 1.")
    detail: str | None = None


class JobErrorOut(BaseModel):
    """Why a job failed or was cancelled: the error its synchronous call would have answered."""

    error: str = Field(examples=["training_failed"])
    message: str
    status: int = Field(description="The HTTP status the synchronous call would have answered.")


class JobOut(BaseModel):
    id: str = Field(pattern=JOB_ID_PATTERN, examples=[JOB_ID_EXAMPLE])
    kind: str = Field(description="What the job does: 'train', 'backtest'.", examples=["train"])
    subject: str | None = Field(
        description="What it works on: the model name for a training.", examples=["sine"]
    )
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    created_at: str
    started_at: str | None
    finished_at: str | None
    cancel_requested: bool = Field(
        description="DELETE /jobs/{id} asked it to stop; it stops at its next batch."
    )
    progress: ProgressOut | None
    result: dict[str, Any] | None = Field(
        description="When succeeded: the body the synchronous call returns (for 'train', the "
        "same body as POST /train with wait=true)."
    )
    error: JobErrorOut | None = Field(description="When failed or cancelled: why.")
    links: dict[str, str] = Field(
        description="'self' (this job) and 'events' (its Server-Sent Events stream).",
        examples=[{"self": f"/jobs/{JOB_ID_EXAMPLE}", "events": f"/jobs/{JOB_ID_EXAMPLE}/events"}],
    )

    @classmethod
    def from_state(cls, state: JobState) -> JobOut:
        progress = state.progress
        error = state.error
        return cls(
            id=state.id,
            kind=state.kind,
            subject=state.subject,
            status=state.status,
            created_at=state.created_at,
            started_at=state.started_at,
            finished_at=state.finished_at,
            cancel_requested=state.cancel_requested,
            progress=None if progress is None else ProgressOut(**dataclasses.asdict(progress)),
            result=state.result,
            error=None
            if error is None
            else JobErrorOut(error=error.code, message=error.message, status=error.status_code),
            links={"self": job_location(state.id), "events": f"{job_location(state.id)}/events"},
        )


def job_location(job_id: str) -> str:
    return f"/jobs/{job_id}"


class JobList(BaseModel):
    jobs: list[JobOut] = Field(description="Known jobs, newest first.")
