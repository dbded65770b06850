"""Training benchmarks: time to the tutorial's holdout MSE; what our default training reaches."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from app.forecasting import EpochProgress, Forecaster, ModelConfig, TrainingConfig, fit
from bench import tutorial
from bench.flops import window_forward_flops, window_training_flops

SERIES = tutorial.sine().numpy()  # float32, as torch.linspace makes it
TRAIN_WINDOWS = len(SERIES) - tutorial.TEST_SIZE - tutorial.WINDOW_SIZE  # 720, the tutorial's
REFIT_WINDOWS = len(SERIES) - tutorial.WINDOW_SIZE  # 760


@dataclass(frozen=True, slots=True)
class TimeToTarget:
    seed: int
    epochs: int | None  # None: not reached within the cap
    seconds: float  # training time of the epochs run (evaluation excluded for the tutorial)
    test_mse: float  # at `epochs` (or at the cap)
    flops: float  # training arithmetic done in `seconds`


def tutorial_to_target(seed: int, cap: int) -> TimeToTarget:
    records = tutorial.train(seed, cap, stop_at_mse=tutorial.TUTORIAL_TEST_MSE)
    last = records[-1]
    reached = last.test_mse <= tutorial.TUTORIAL_TEST_MSE
    flops = last.epoch * TRAIN_WINDOWS * window_training_flops()
    return TimeToTarget(
        seed, last.epoch if reached else None, last.train_seconds, last.test_mse, flops
    )


def fit_phase_flops(info_epochs: int, train_windows: int, validation_windows: int) -> float:
    """Each fit epoch trains on the train windows and runs a forward pass on the validation ones."""
    per_epoch = (
        train_windows * window_training_flops() + validation_windows * window_forward_flops()
    )
    return float(info_epochs * per_epoch)


def ours_to_target(seed: int, cap: int, lr_decay: float | None) -> TimeToTarget:
    """The first k with fit(max_epochs=k, refit_epochs=0) at or under the tutorial's MSE.

    `lr_decay=None` lets each k plan its own decay (0.8 ** (12 / k)); a fixed value makes run k
    exactly the first k epochs of the default run (same shuffles, same learning rates).
    """
    result: TimeToTarget | None = None
    for k in range(1, cap + 1):
        config = TrainingConfig(max_epochs=k, refit_epochs=0, seed=seed, lr_decay=lr_decay)
        forecaster = fit(SERIES, ModelConfig(), config, test_size=tutorial.TEST_SIZE)
        assert forecaster.evaluation is not None
        assert forecaster.evaluation.test_mse is not None
        info = forecaster.training
        flops = fit_phase_flops(info.epochs, info.train_windows, info.validation_windows)
        mse = forecaster.evaluation.test_mse
        result = TimeToTarget(seed, k, info.seconds, mse, flops)
        if mse <= tutorial.TUTORIAL_TEST_MSE:
            return result
    assert result is not None
    return TimeToTarget(seed, None, result.seconds, result.test_mse, result.flops)


def default_decay() -> float:
    """The decay the default plan uses on the sine (0.8 ** (12 / planned epochs))."""
    validation = math.floor(TRAIN_WINDOWS * TrainingConfig().validation_fraction)
    return TrainingConfig().decay_per_epoch(TRAIN_WINDOWS - validation)


@dataclass(frozen=True, slots=True)
class DefaultRun:
    seed: int
    fit_epochs: int
    refit_epochs: int
    fit_seconds: float  # elapsed at the end of the last fit epoch (on_epoch's clock)
    training_seconds: float  # TrainingInfo.seconds: fit + refit
    wall_seconds: float  # the whole fit() call: training + holdout forecast and scoring
    test_mse: float
    fit_flops: float
    total_flops: float


def ours_default(seed: int) -> tuple[DefaultRun, Forecaster]:
    fit_elapsed: list[float] = []

    def on_epoch(progress: EpochProgress) -> None:
        if progress.phase == "fit":
            fit_elapsed.append(progress.elapsed_seconds)

    started = time.perf_counter()
    forecaster = fit(
        SERIES,
        ModelConfig(),
        TrainingConfig(seed=seed),
        test_size=tutorial.TEST_SIZE,
        on_epoch=on_epoch,
    )
    wall = time.perf_counter() - started
    info = forecaster.training
    assert forecaster.evaluation is not None
    assert forecaster.evaluation.test_mse is not None
    fit_flops = fit_phase_flops(info.epochs, info.train_windows, info.validation_windows)
    refit_flops = info.refit_epochs * REFIT_WINDOWS * window_training_flops()
    run = DefaultRun(
        seed=seed,
        fit_epochs=info.epochs,
        refit_epochs=info.refit_epochs,
        fit_seconds=fit_elapsed[-1],
        training_seconds=info.seconds,
        wall_seconds=wall,
        test_mse=forecaster.evaluation.test_mse,
        fit_flops=fit_flops,
        total_flops=fit_flops + refit_flops,
    )
    return run, forecaster


def median(values: list[float]) -> float:
    return float(np.median(values))
