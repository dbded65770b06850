"""The read path: one snapshot per request, then the next value, a forecast, or a chart.

A request takes its snapshot once (`snapshot`) and everything it answers comes from that one
immutable version. `forecast` adds split-conformal intervals (intervals.py) and the forecast's
timestamps when asked; `chart` is the dashboard's picture of a version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from app.errors import InvalidInputError, ModelNotFoundError, NotReadyError
from app.forecasting import InvalidSeriesError
from app.forecasting.intervals import PredictionInterval
from app.forecasting.timestamps import TimeIndex
from app.forecasting.windowing import FloatArray
from app.serving.choices import TimeInput
from app.serving.default_model import DEFAULT_MODEL, DefaultModel
from app.serving.limits import Limits
from app.store import ModelSnapshot, ModelStore

EXTRAPOLATION_RULE = "half-width at the last calibrated step x sqrt(step / calibration_horizon)"
CHART_LEVELS = (80.0, 95.0)


def limit_inference_threads() -> None:
    """One thread for inference in this process, torch's and numpy's BLAS alike.

    Serving runs one request at a time per event loop: one thread is fastest for this model size
    and leaves the other cores to training. numpy's BLAS (the forecast engine's matmuls) would
    otherwise split batched forecasts over every core and wait for busy ones: 2.5-4.9 s instead
    of 0.22-0.30 s for 64 series with a training running (bench/blas_threads.py).
    """
    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")


class ForecastInput(Protocol):
    """What a forecast request carries (the API's ForecastRequest)."""

    model: str
    horizon: int
    series: list[float] | None
    level: list[float] | None
    timestamps: list[str] | None
    start: str | None
    freq: str | None


@dataclass(frozen=True, slots=True)
class Calibration:
    """How a forecast's intervals were obtained."""

    calibration_horizon: int
    calibration_origins: int
    min_errors_per_step: int
    extrapolated_steps: int


@dataclass(frozen=True, slots=True)
class Prediction:
    """What one version answered, with intervals and timestamps when they were asked for."""

    snapshot: ModelSnapshot
    values: FloatArray
    intervals: list[PredictionInterval] | None = None
    calibration: Calibration | None = None
    timestamps: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    """A version's series, holdout test and future forecast with its bands, when it has any."""

    snapshot: ModelSnapshot
    forecast: FloatArray | None  # None when no future was asked for
    bands: list[PredictionInterval]


class Predictions:
    def __init__(self, store: ModelStore, limits: Limits, default: DefaultModel) -> None:
        self.store = store
        self.limits = limits
        self.default = default

    def snapshot(self, name: str) -> ModelSnapshot:
        """The one snapshot a request works on."""
        try:
            return self.store.get(name)
        except ModelNotFoundError:
            if name == DEFAULT_MODEL and not self.default.ready:
                raise NotReadyError(
                    "the default model is still being trained at startup; retry in a few "
                    "seconds (GET /readyz answers 200 when it is ready)"
                ) from None
            candidates = self.store.versions(name)  # kept, none served: all lost the gate
            if candidates:
                raise ModelNotFoundError(name, candidates=candidates) from None
            raise

    def models(self) -> list[ModelSnapshot]:
        """The served version of every model."""
        return self.store.snapshots()

    def predict_next(self, name: str, window: list[float]) -> Prediction:
        snapshot = self.snapshot(name)
        self.limits.window(snapshot, window)
        value = snapshot.forecaster.predict_next(window)
        return Prediction(snapshot, np.array([value]))

    def forecast(self, request: ForecastInput) -> Prediction:
        snapshot, values = self._forecast(request.model, request.horizon, request.series)
        intervals, calibration = None, None
        if request.level:
            intervals, calibration = _intervals(snapshot, values, request.level)
        time = TimeInput(request.timestamps, request.start, request.freq)
        timestamps = _timestamps(snapshot, len(values), request.series, time)
        return Prediction(snapshot, values, intervals, calibration, timestamps)

    def chart(self, name: str, horizon: int) -> Chart:
        """The model's picture: with `horizon`, a forecast and its 80/95% bands if it has any."""
        if horizon == 0:
            return Chart(self.snapshot(name), None, [])
        snapshot, values = self._forecast(name, horizon, None)
        residuals = snapshot.forecaster.intervals
        bands = residuals.intervals(values, CHART_LEVELS) if residuals is not None else []
        return Chart(snapshot, values, bands)

    def _forecast(
        self, name: str, horizon: int, series: list[float] | None
    ) -> tuple[ModelSnapshot, FloatArray]:
        self.limits.horizon(horizon)
        snapshot = self.snapshot(name)
        if series is not None:
            self.limits.history(snapshot, series)
        try:
            return snapshot, snapshot.forecaster.forecast(horizon, series)
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error


def _intervals(
    snapshot: ModelSnapshot, forecast: FloatArray, levels: Sequence[float]
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


def _timestamps(
    snapshot: ModelSnapshot, horizon: int, series: list[float] | None, time: TimeInput
) -> list[str] | None:
    """When the forecast's values fall: after the request's timestamps, or, forecasting the
    model's own series, after the time index it was trained with."""
    length = len(series) if series is not None else len(snapshot.forecaster.series)
    index: TimeIndex | None = time.resolve(length)
    if index is None and series is None:
        index = snapshot.metadata.time_index
    if index is None:
        return None
    try:
        return index.future(horizon)
    except InvalidSeriesError as error:
        raise InvalidInputError(str(error)) from error
