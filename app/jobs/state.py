"""What a job is at one moment: its status, latest progress, result or error; and its events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from app.forecasting.finite import finite_or_none

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
EventKind = Literal["status", "progress"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


def finite(value: float | None) -> float | None:
    """JSON has no NaN or Infinity: a diverged loss is reported as null."""
    return None if value is None else finite_or_none(value)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (results are rendered as JSON)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class Progress:
    """The latest progress of a job. A training fills the epoch fields; other works may not."""

    phase: str
    epoch: int | None = None
    epochs_planned: int | None = None
    time_budget_seconds: float | None = None
    train_loss: float | None = None
    validation_loss: float | None = None
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None
    fraction: float | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class JobFailure:
    """Why a job failed or was cancelled: the error body its synchronous call would answer."""

    code: str
    message: str
    status_code: int


@dataclass(frozen=True, slots=True)
class JobState:
    """One job as it is at one moment; replaced as a whole on every change."""

    id: str
    kind: str
    subject: str | None  # what the job works on (a model name), for conflicts and display
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    cancel_requested: bool = False
    progress: Progress | None = None
    result: dict[str, Any] | None = None
    error: JobFailure | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A status change or a progress report, numbered from 1 within its job."""

    seq: int
    kind: EventKind
    state: JobState  # the job right after the event
