"""Rolling-origin backtests: how a model configuration would have forecast the series' past.

Window k (k = 0..n_windows-1) has its origin at L - horizon - (n_windows - 1 - k) * step: the
model sees the values before the origin and forecasts the `horizon` values from it. With `refit`
a model is trained per window on everything before its origin (the honest replay of retraining
before every forecast); without, one model is trained on the values before the first origin and
forecasts every window, in one batched call. The naive and seasonal naive baselines forecast the
same windows. Per window: MAE, RMSE, sMAPE and MASE (scaled by the in-sample seasonal naive MAE
of that window's training values); the aggregate is the mean over windows.

Cost: every training is capped at `max_total_epochs // trainings` epochs and shares the
`max_total_seconds` budget (each gets the remaining budget divided by the trainings still to run).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from app.forecasting.config import ModelConfig, TrainingConfig
from app.forecasting.errors import InvalidSeriesError
from app.forecasting.evaluation import (
    mae,
    mase_scale,
    mse,
    naive_forecast,
    seasonal_naive_forecast,
    smape,
)
from app.forecasting.finite import finite_or_none
from app.forecasting.forecaster import Forecaster, fit
from app.forecasting.training import StopCallback
from app.forecasting.windowing import FloatArray

MAX_WINDOWS = 20
METHODS = ("model", "naive", "seasonal_naive")


@dataclass(frozen=True, slots=True)
class Scores:
    mae: float | None
    rmse: float | None
    smape: float | None
    mase: float | None

    @classmethod
    def of(cls, actual: FloatArray, predicted: FloatArray, scale: float | None) -> Scores:
        error = mae(actual, predicted)
        return cls(
            mae=finite_or_none(error),
            rmse=finite_or_none(math.sqrt(mse(actual, predicted))),
            smape=finite_or_none(smape(actual, predicted)),
            mase=finite_or_none(error / scale) if scale is not None else None,
        )

    @classmethod
    def mean(cls, scores: list[Scores]) -> Scores:
        def average(name: str) -> float | None:
            values = [getattr(s, name) for s in scores if getattr(s, name) is not None]
            return float(np.mean(values)) if values else None

        return cls(average("mae"), average("rmse"), average("smape"), average("mase"))


@dataclass(frozen=True, slots=True)
class WindowResult:
    origin: int  # series position of the first forecast value
    train_length: int
    scores: dict[str, Scores]  # by method: model, naive, seasonal_naive (when a season is known)
    forecast: tuple[float, ...]
    actual: tuple[float, ...]
    epochs: int  # epochs of the model that forecast this window (0: reused from window 0)
    seconds: float


@dataclass(frozen=True, slots=True)
class BacktestReport:
    windows: tuple[WindowResult, ...]
    aggregate: dict[str, Scores]
    season_length: int | None
    refit: bool
    trainings: int
    seconds: float


@dataclass(frozen=True, slots=True)
class BacktestPlan:
    """Everything one backtest needs; picklable, so a worker process can run it."""

    series: FloatArray
    model_config: ModelConfig
    training: TrainingConfig
    n_windows: int
    horizon: int
    step: int
    refit: bool = True
    season_length: int | None = None
    max_total_epochs: int = 1000
    max_total_seconds: float = 120.0


def window_origins(length: int, n_windows: int, horizon: int, step: int) -> list[int]:
    """Origins (first forecast positions) of the windows, oldest first; the last ends at L."""
    return [length - horizon - (n_windows - 1 - k) * step for k in range(n_windows)]


def check_plan(length: int, window_size: int, n_windows: int, horizon: int, step: int) -> None:
    """Refuse a plan the series cannot hold, saying what it needs."""
    if not 1 <= n_windows <= MAX_WINDOWS:
        raise InvalidSeriesError(f"n_windows must be 1..{MAX_WINDOWS}; got {n_windows}")
    if horizon < 1 or step < 1:
        raise InvalidSeriesError(f"horizon and step must be >= 1; got {horizon} and {step}")
    first = window_origins(length, n_windows, horizon, step)[0]
    needed = window_size + 2  # two (window, label) pairs: one to train, one to validate
    if first < needed:
        required = needed + horizon + (n_windows - 1) * step
        raise InvalidSeriesError(
            f"series needs at least {required} values for n_windows={n_windows}, "
            f"horizon={horizon}, step={step} and window_size={window_size} (the first window "
            f"must train on at least window_size + 2 = {needed} values); got {length}"
        )


def _train_windows(length: int, window_size: int, validation_fraction: float) -> int:
    """Training windows fit() will use for a series of `length` (as train_model splits them)."""
    windows = length - window_size
    validation = math.floor(windows * validation_fraction)
    return windows - validation if windows - validation >= 1 else windows


def _capped(
    training: TrainingConfig, train_length: int, window_size: int, epochs: int, seconds: float
) -> TrainingConfig:
    planned = training.planned_epochs(
        _train_windows(train_length, window_size, training.validation_fraction)
    )
    return replace(training, max_epochs=max(1, min(planned, epochs)), max_seconds=seconds)


def run_backtest(plan: BacktestPlan, should_stop: StopCallback | None = None) -> BacktestReport:
    """Run the rolling-origin evaluation described in the module docstring; `should_stop` is
    polled before every batch of every training (TrainingCancelledError when it says so)."""
    started = time.perf_counter()
    check_plan(
        len(plan.series), plan.model_config.window_size, plan.n_windows, plan.horizon, plan.step
    )
    origins = window_origins(len(plan.series), plan.n_windows, plan.horizon, plan.step)
    trainings = plan.n_windows if plan.refit else 1
    train = _window_trainer(plan, trainings, started, should_stop)
    results = (
        _refit_windows(plan, origins, train) if plan.refit else _one_model(plan, origins, train)
    )
    aggregate = {
        method: Scores.mean([r.scores[method] for r in results])
        for method in METHODS
        if all(method in r.scores for r in results)
    }
    return BacktestReport(
        windows=tuple(results),
        aggregate=aggregate,
        season_length=plan.season_length,
        refit=plan.refit,
        trainings=trainings,
        seconds=time.perf_counter() - started,
    )


# (origin, trainings still to run) -> a model trained on the values before `origin`
WindowTrainer = Callable[[int, int], Forecaster]


def _window_trainer(
    plan: BacktestPlan, trainings: int, started: float, should_stop: StopCallback | None
) -> WindowTrainer:
    """Trainings capped at their share of the epochs and of the time left (module docstring)."""
    window_size = plan.model_config.window_size
    epochs_each = max(1, plan.max_total_epochs // trainings)

    def train(origin: int, remaining: int) -> Forecaster:
        left = max(plan.max_total_seconds - (time.perf_counter() - started), 1e-3)
        training = _capped(plan.training, origin, window_size, epochs_each, left / remaining)
        return fit(
            plan.series[:origin],
            plan.model_config,
            training,
            test_size=0,
            season_length=plan.season_length,
            should_stop=should_stop,
            calibrate=False,
        )

    return train


def _refit_windows(
    plan: BacktestPlan, origins: list[int], train: WindowTrainer
) -> list[WindowResult]:
    """A model per window, trained on everything before its origin."""
    results = []
    for k, origin in enumerate(origins):
        window_started = time.perf_counter()
        forecaster = train(origin, plan.n_windows - k)
        predicted = forecaster.forecast(plan.horizon, plan.series[:origin])
        seconds = time.perf_counter() - window_started
        results.append(_score(plan, origin, predicted, forecaster.training.epochs, seconds))
    return results


def _one_model(plan: BacktestPlan, origins: list[int], train: WindowTrainer) -> list[WindowResult]:
    """One model trained before the first origin forecasts every window in one batched call."""
    window_started = time.perf_counter()
    forecaster = train(origins[0], 1)
    predictions = forecaster.forecast_many([plan.series[:o] for o in origins], plan.horizon)
    seconds = time.perf_counter() - window_started
    epochs = forecaster.training.epochs
    return [
        _score(plan, origin, predictions[k], epochs if k == 0 else 0, seconds if k == 0 else 0)
        for k, origin in enumerate(origins)
    ]


def _score(
    plan: BacktestPlan, origin: int, predicted: FloatArray, epochs: int, seconds: float
) -> WindowResult:
    train, actual = plan.series[:origin], plan.series[origin : origin + plan.horizon]
    season = plan.season_length
    scale = mase_scale(train, season or 1)
    scores = {
        "model": Scores.of(actual, predicted, scale),
        "naive": Scores.of(actual, naive_forecast(train, plan.horizon), scale),
    }
    if season is not None and season <= len(train):
        seasonal = seasonal_naive_forecast(train, plan.horizon, season)
        scores["seasonal_naive"] = Scores.of(actual, seasonal, scale)
    return WindowResult(
        origin=origin,
        train_length=len(train),
        scores=scores,
        forecast=tuple(float(v) for v in predicted),
        actual=tuple(float(v) for v in actual),
        epochs=epochs,
        seconds=seconds,
    )
