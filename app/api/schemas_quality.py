"""Bodies of POST /backtest, GET /models/{name}/versions and POST /models/{name}/rollback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import (
    SINE_EXAMPLE,
    MetricsOut,
    ModelConfigOut,
    ModelOut,
    StrictInt,
    TrainRequest,
)
from app.api.schemas_parts import ChoicesOut, PromotionOut
from app.forecasting.backtest import MAX_WINDOWS, Scores
from app.serving.backtests import BacktestResult
from app.serving.versions import Rollback, VersionInfo, VersionListing


class BacktestRequest(TrainRequest):
    """A /train body plus the windows to replay. Nothing is saved: `test_size` and `promote` do
    not apply (each window is a holdout) and are ignored; `"wait": false` runs it as a job."""

    n_windows: Annotated[
        StrictInt, Field(ge=1, le=MAX_WINDOWS, description="Rolling origins to evaluate.")
    ] = 3
    horizon: Annotated[
        StrictInt,
        Field(
            ge=1,
            le=1_000_000,
            description="Steps forecast from each origin (at most FORECAST_MAX_HORIZON).",
        ),
    ]
    step: Annotated[
        StrictInt | None,
        Field(ge=1, le=1_000_000, description="Values between origins; default: horizon."),
    ] = None
    refit: Annotated[
        bool,
        Field(
            description="true: train a model per window on the values before its origin. "
            "false: train once before the first origin and forecast every window with it.",
        ),
    ] = True

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "model": "sine",
                    "series": SINE_EXAMPLE,
                    "window_size": 20,
                    "n_windows": 3,
                    "horizon": 10,
                    "epochs": 5,
                }
            ]
        },
    )


class ScoresOut(BaseModel):
    mae: float | None
    rmse: float | None
    smape: float | None = Field(description="Symmetric MAPE in percent (0..200).")
    mase: float | None = Field(
        description="MAE over the in-sample seasonal naive MAE of the window's training values."
    )

    @classmethod
    def of(cls, scores: Scores) -> ScoresOut:
        return cls(mae=scores.mae, rmse=scores.rmse, smape=scores.smape, mase=scores.mase)


class BacktestWindowOut(BaseModel):
    origin: int = Field(description="Position in `series` of the window's first forecast value.")
    origin_timestamp: str | None = None
    train_length: int
    scores: dict[str, ScoresOut] = Field(
        description="By method: model, naive, seasonal_naive (when a season is known)."
    )
    forecast: list[float]
    actual: list[float]
    epochs: int = Field(description="Epochs of this window's training (0: reused the first).")
    seconds: float


class BacktestResponse(BaseModel):
    config: ModelConfigOut
    season_length: int | None
    choices: ChoicesOut
    refit: bool
    trainings: int
    seconds: float
    aggregate: dict[str, ScoresOut] = Field(description="Mean of each score over windows.")
    windows: list[BacktestWindowOut]

    @classmethod
    def of(cls, result: BacktestResult) -> BacktestResponse:
        report, training = result.report, result.spec.training
        index = training.time_index
        choices = ChoicesOut.of(training.choices)
        assert choices is not None  # a backtest always resolves its choices
        return cls(
            config=ModelConfigOut(**training.model_config.to_dict()),
            season_length=report.season_length,
            choices=choices,
            refit=report.refit,
            trainings=report.trainings,
            seconds=report.seconds,
            aggregate={m: ScoresOut.of(s) for m, s in report.aggregate.items()},
            windows=[
                BacktestWindowOut(
                    origin=w.origin,
                    origin_timestamp=index.format(index.at(w.origin)) if index else None,
                    train_length=w.train_length,
                    scores={m: ScoresOut.of(s) for m, s in w.scores.items()},
                    forecast=list(w.forecast),
                    actual=list(w.actual),
                    epochs=w.epochs,
                    seconds=w.seconds,
                )
                for w in report.windows
            ],
        )


class VersionOut(BaseModel):
    version: int
    status: Literal["served", "candidate", "retired", "unreadable"] = Field(
        description="served now; candidate: kept but never served (lost the promotion gate); "
        "retired: served before; unreadable: the file failed its checksum."
    )
    created_at: str | None = None
    config: ModelConfigOut | None = None
    metrics: MetricsOut | None = None
    promotion: PromotionOut | None = None

    @classmethod
    def of(cls, info: VersionInfo) -> VersionOut:
        summary = info.summary
        if summary is None:
            return cls(version=info.version, status="unreadable")
        metadata = summary.metadata
        return cls(
            version=info.version,
            status=info.status,
            created_at=(metadata.created_at or None) if metadata is not None else None,
            config=ModelConfigOut(**summary.config.to_dict()),
            metrics=MetricsOut.of(summary.evaluation),
            promotion=PromotionOut.of(metadata.promotion if metadata is not None else None),
        )


class VersionList(BaseModel):
    model: str
    served_version: int | None
    keep_versions: int = Field(description="FORECAST_KEEP_VERSIONS: how many the store keeps.")
    versions: list[VersionOut]

    @classmethod
    def of(cls, listing: VersionListing) -> VersionList:
        return cls(
            model=listing.name,
            served_version=listing.served_version,
            keep_versions=listing.keep_versions,
            versions=[VersionOut.of(v) for v in listing.versions],
        )


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    version: Annotated[
        StrictInt | None,
        Field(ge=1, description="The kept version to serve; default: the newest older one."),
    ] = None


class RollbackResponse(ModelOut):
    previous_version: int | None = Field(
        None, description="The version served before the rollback."
    )

    @classmethod
    def after(cls, rollback: Rollback) -> RollbackResponse:
        served = ModelOut.of(rollback.snapshot).model_dump()
        return cls(**served, previous_version=rollback.previous_version)
