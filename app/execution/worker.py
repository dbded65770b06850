"""What runs inside a worker process: one training or one backtest, with its hooks.

Imported by the worker processes themselves, so it imports the forecasting core and nothing of
the server. A training returns the checkpoint's bytes, which the server verifies with the same
safe parser it uses for files on disk before anything is published.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.execution.hooks import CancelFlag, ProgressSink, WorkerHooks
from app.forecasting import EpochProgress, ModelConfig, TrainingConfig, fit
from app.forecasting.backtest import BacktestPlan, BacktestReport, run_backtest
from app.forecasting.checkpoint import checkpoint_bytes
from app.forecasting.metadata import VersionMetadata
from app.forecasting.windowing import FloatArray

CANCEL_POLL_SECONDS = 0.02  # a cancel flag lookup is an IPC round trip (~100 us)


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """Everything a worker needs to train one version of a model; picklable."""

    series: FloatArray
    model_config: ModelConfig
    training: TrainingConfig
    test_size: int
    season_length: int | None
    metadata: VersionMetadata


def train_in_worker(plan: TrainingPlan, hooks: WorkerHooks | None) -> bytes:
    """Train and return the checkpoint bytes.

    With hooks, every epoch's `EpochProgress` is put on `hooks.progress` as a dict, and the
    training stops (TrainingCancelledError, nothing returned) at the first batch after
    `hooks.cancel` is set.
    """
    hooks = _on_worker_threads(plan.training, hooks)
    forecaster = fit(
        plan.series,
        plan.model_config,
        plan.training,
        test_size=plan.test_size,
        season_length=plan.season_length,
        on_epoch=_reporter(hooks.progress),
        should_stop=_stopper(hooks.cancel),
    )
    return checkpoint_bytes(forecaster, plan.metadata)


def backtest_in_worker(plan: BacktestPlan, hooks: WorkerHooks | None) -> BacktestReport:
    """The rolling-origin evaluation (backtest.py), stopped like a training by `hooks.cancel`."""
    hooks = _on_worker_threads(plan.training, hooks)
    return run_backtest(plan, should_stop=_stopper(hooks.cancel))


def _on_worker_threads(training: TrainingConfig, hooks: WorkerHooks | None) -> WorkerHooks:
    """Bound torch and numpy (holdout and calibration forecasts) to the training's threads."""
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=training.num_threads, user_api="blas")
    torch.set_num_threads(training.num_threads)
    return hooks or WorkerHooks()


def _reporter(sink: ProgressSink | None) -> Callable[[EpochProgress], None] | None:
    if sink is None:
        return None

    def report(progress: EpochProgress) -> None:
        sink.put(dataclasses.asdict(progress))

    return report


def _stopper(flag: CancelFlag | None) -> Callable[[], bool] | None:
    """Poll `flag` at most every CANCEL_POLL_SECONDS: cheap next to a batch, prompt enough."""
    if flag is None:
        return None
    last_poll = -math.inf

    def should_stop() -> bool:
        nonlocal last_poll
        now = time.monotonic()
        if now - last_poll < CANCEL_POLL_SECONDS:
            return False
        last_poll = now
        return bool(flag.is_set())

    return should_stop
