"""Typed results of the client: the server's response bodies, read with pydantic.

Fields this client does not know are kept (and dumped) untyped: a newer server breaks nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ModelConfig(_Body):
    window_size: int
    hidden_size: int
    num_layers: int
    cell: str


class TrainingSummary(_Body):
    epochs: int
    best_epoch: int
    refit_epochs: int
    seconds: float
    final_loss: float | None
    best_validation_loss: float | None
    stopped_by: str


class Metrics(_Body):
    test_size: int
    test_mse: float | None
    test_mae: float | None = None
    test_rmse: float | None = None
    naive_mse: float | None = None
    seasonal_naive_mse: float | None = None
    season_length: int | None = None
    mase: float | None = None


class Promotion(_Body):
    promoted: bool
    policy: str
    reason: str
    served_version: int | None = None


class Model(_Body):
    """A trained model version: its config, training summary and holdout metrics."""

    model: str
    version: int
    created_at: str
    config: ModelConfig
    training: TrainingSummary
    metrics: Metrics
    series_length: int
    promotion: Promotion | None = None


class Interval(_Body):
    level: float
    lower: list[float]
    upper: list[float]


class Forecast(_Body):
    model: str
    version: int
    horizon: int
    forecast: list[float]
    intervals: list[Interval] | None = None
    timestamps: list[str] | None = None


class Prediction(_Body):
    model: str
    version: int
    prediction: float


class Progress(_Body):
    """A job's latest progress (per epoch for a training)."""

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


class JobError(_Body):
    error: str
    message: str
    status: int


class Job(_Body):
    """A background job; `result` is the body its synchronous call returns."""

    id: str
    kind: str
    subject: str | None = None
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    cancel_requested: bool = False
    progress: Progress | None = None
    result: dict[str, Any] | None = None
    error: JobError | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def model(self) -> Model:
        """The trained model of a succeeded training job."""
        if self.result is None:
            raise ValueError(f"job {self.id} is {self.status} and has no result")
        return Model.model_validate(self.result)


class Holdout(_Body):
    start: int
    forecast: list[float | None]
    actual: list[float]


class Band(_Body):
    level: float
    lower: list[float | None]
    upper: list[float | None]


class SeriesData(_Body):
    """The data behind the chart: series, holdout test, future forecast and its bands."""

    model: str
    version: int
    series: list[float]
    holdout: Holdout | None
    horizon: int
    forecast: list[float | None]
    bands: list[Band]
