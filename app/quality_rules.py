"""The forecast-quality rules the service applies around the core.

- `resolve_training_choices`: `auto` window size and season length, the time index of the series,
  and the promotion policy of a training request (errors as 422s).
- `forecast_extras`: prediction intervals and future timestamps of a forecast.
- `publish_or_keep`: the promotion gate at publish time; the decision is written into the new
  version's checkpoint metadata, so it stays with the version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from app.errors import InvalidInputError
from app.forecasting import CellType, InvalidSeriesError, ModelConfig
from app.forecasting.auto import (
    AutoChoice,
    choose_difference,
    choose_season_length,
    choose_window_size,
)
from app.forecasting.checkpoint import Checkpoint
from app.forecasting.intervals import PredictionInterval
from app.forecasting.promotion import PromotePolicy, decide_promotion
from app.forecasting.timestamps import TimeIndex, resolve_time_index
from app.store import ModelSnapshot, ModelStore

Auto = Literal["auto"]
TUTORIAL = ModelConfig()
EXTRAPOLATION_RULE = "half-width at the last calibrated step x sqrt(step / calibration_horizon)"


@dataclass(frozen=True, slots=True)
class TimeInput:
    """Timestamps as a request gave them: explicit, or start + freq, or nothing."""

    timestamps: Sequence[str] | None = None
    start: str | None = None
    freq: str | None = None

    def resolve(self, length: int) -> TimeIndex | None:
        try:
            return resolve_time_index(
                length, timestamps=self.timestamps, start=self.start, freq=self.freq
            )
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error


@dataclass(frozen=True, slots=True)
class TrainingChoices:
    """What a training request left to the service, resolved."""

    window_size: AutoChoice
    season_length: AutoChoice
    difference: AutoChoice  # value 1: the network reads first differences
    time_index: TimeIndex | None
    promote: PromotePolicy

    def model_config(self, *, hidden_size: int, num_layers: int, cell: CellType) -> ModelConfig:
        """The architecture with the chosen window and differencing."""
        assert self.window_size.value is not None  # window choices are never None
        return ModelConfig(
            window_size=self.window_size.value,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            difference=bool(self.difference.value),
        )

    def metadata(self) -> dict[str, Any]:
        """What the checkpoint keeps of them (the promotion decision is added at publish)."""
        return {
            "choices": {
                "window_size": self.window_size.to_dict(),
                "season_length": self.season_length.to_dict(),
                "difference": self.difference.to_dict(),
            },
            "time_index": self.time_index.to_dict() if self.time_index else None,
        }


def resolve_training_choices(
    series: Sequence[float],
    *,
    window_size: int | Auto,
    season_length: int | Auto | None,
    difference: bool | Auto,
    test_size: int,
    promote: PromotePolicy | None,
    time: TimeInput,
    tutorial: bool = False,
) -> TrainingChoices:
    """Resolve `auto` from the training part (never the holdout), the time index, and the
    promotion policy (default: if_better with a holdout, always without one).

    With `tutorial` (the built-in default model), `auto` keeps the tutorial's window of 40 and
    no differencing, whatever the series.
    """
    if promote == "if_better" and test_size == 0:
        raise InvalidInputError(
            "promote 'if_better' compares holdout scores and needs test_size > 0; got test_size 0 "
            "(send promote 'always', or a test_size)"
        )
    time_index = time.resolve(len(series))
    values = np.asarray(series, dtype=np.float64)
    train = values[: max(len(values) - test_size, min(len(values), 2))]
    if season_length is None or season_length == "auto":
        season = choose_season_length(train)
    else:
        season = AutoChoice(season_length, "given", "given in the request")
    if window_size != "auto":
        window = AutoChoice(window_size, "given", "given in the request")
    elif tutorial:
        window = AutoChoice(TUTORIAL.window_size, "auto", "the built-in default model keeps it")
    else:
        window = choose_window_size(train, season.value)
    if difference != "auto":
        differencing = AutoChoice(int(difference), "given", "given in the request")
    elif tutorial:
        differencing = AutoChoice(0, "auto", "the built-in default model keeps it")
    else:
        differencing = choose_difference(train)
    policy: PromotePolicy = promote or ("if_better" if test_size > 0 else "always")
    return TrainingChoices(window, season, differencing, time_index, policy)


@dataclass(frozen=True, slots=True)
class Calibration:
    """How a forecast's intervals were obtained."""

    calibration_horizon: int
    calibration_origins: int
    min_errors_per_step: int
    extrapolated_steps: int


@dataclass(frozen=True, slots=True)
class ForecastExtras:
    intervals: list[PredictionInterval] | None = None
    calibration: Calibration | None = None
    timestamps: list[str] | None = None


def forecast_extras(
    snapshot: ModelSnapshot,
    forecast: np.ndarray,
    *,
    series_length: int | None,
    levels: Sequence[float] | None,
    time: TimeInput,
) -> ForecastExtras:
    """Intervals at `levels` and the timestamps of `forecast`.

    `series_length` is the length of the history the request sent (None: the model's own series,
    whose stored time index, if any, then dates the forecast).
    """
    intervals, calibration = None, None
    if levels:
        intervals, calibration = _intervals(snapshot, forecast, levels)
    length = series_length if series_length is not None else len(snapshot.forecaster.series)
    index = time.resolve(length)
    if index is None and series_length is None:
        stored = snapshot.metadata.get("time_index")
        index = TimeIndex.from_dict(stored) if isinstance(stored, dict) else None
    timestamps = _future(index, len(forecast)) if index is not None else None
    return ForecastExtras(intervals, calibration, timestamps)


def _future(index: TimeIndex, horizon: int) -> list[str]:
    try:
        return index.future(horizon)
    except InvalidSeriesError as error:
        raise InvalidInputError(str(error)) from error


def _intervals(
    snapshot: ModelSnapshot, forecast: np.ndarray, levels: Sequence[float]
) -> tuple[list[PredictionInterval], Calibration]:
    residuals = snapshot.forecaster.intervals
    if residuals is None:
        raise InvalidInputError(
            f"model {snapshot.name!r} version {snapshot.version} has no calibration errors for "
            "intervals (trained before intervals existed, or its series left no values the "
            "model had not trained on); retrain it, or omit level"
        )
    calibration = Calibration(
        calibration_horizon=residuals.calibration_horizon,
        calibration_origins=residuals.n_origins,
        min_errors_per_step=int(residuals.counts().min()),
        extrapolated_steps=residuals.extrapolated_steps(len(forecast)),
    )
    return residuals.intervals(forecast, levels), calibration


def publish_or_keep(
    store: ModelStore, name: str, version: int, checkpoint: Checkpoint, policy: PromotePolicy
) -> ModelSnapshot:
    """Serve the new version if `policy` lets it replace the serving one, else keep it as a
    candidate; either way the decision goes into its metadata. Call under the training lock."""
    serving = store.find(name)
    decision = decide_promotion(
        policy,
        checkpoint.forecaster.evaluation,
        serving.forecaster.evaluation if serving is not None else None,
        serving.version if serving is not None else None,
    )
    served = version if decision.promoted else (serving.version if serving else None)
    promotion = {**decision.to_dict(), "served_version": served}
    final = checkpoint.with_metadata({**checkpoint.metadata, "promotion": promotion})
    if decision.promoted:
        return store.publish(name, version, final)
    return store.save_candidate(name, version, final)
