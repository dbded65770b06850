"""Training off the event loop, in worker processes, with bounded torch threads.

Trainings run in a `spawn`ed process pool: serving keeps its own interpreter (no GIL shared with
an epoch loop) and a crash or leak in a training cannot take the server down. A worker returns
the finished checkpoint's bytes, which the server verifies with the same safe parser it uses for
files on disk before anything is published.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.errors import TooManyTrainingsError, TrainingFailedError
from app.forecasting import EpochProgress, ModelConfig, TrainingConfig, fit
from app.forecasting.backtest import BacktestPlan, BacktestReport, run_backtest
from app.forecasting.checkpoint import checkpoint_bytes
from app.forecasting.windowing import FloatArray
from app.process_guard import exit_with_parent

logger = logging.getLogger(__name__)


CANCEL_POLL_SECONDS = 0.02  # a cancel flag lookup is an IPC round trip (~100 us)


class ProgressSink(Protocol):
    """Where a worker puts one dict per epoch (a `multiprocessing.Manager().Queue()` proxy)."""

    def put(self, item: dict[str, Any]) -> None: ...


class CancelFlag(Protocol):
    """What a worker polls to stop early (a `multiprocessing.Manager().Event()` proxy)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class TrainingHooks:
    """Progress and cancellation across the process boundary; both proxies are picklable."""

    progress: ProgressSink | None = None
    cancel: CancelFlag | None = None


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """Everything a worker process needs; picklable."""

    series: FloatArray
    model_config: ModelConfig
    training: TrainingConfig
    test_size: int
    season_length: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    hooks: TrainingHooks | None = None


def run_training_job(job: TrainingJob) -> bytes:
    """Worker entry point: train and return the checkpoint bytes.

    With `job.hooks`, every epoch's `EpochProgress` is put on `hooks.progress` as a dict, and
    the training stops (TrainingCancelledError, nothing returned) at the first batch after
    `hooks.cancel` is set.
    """
    import torch
    from threadpoolctl import threadpool_limits

    # numpy (holdout and calibration forecasts) on the same thread budget as torch.
    threadpool_limits(limits=job.training.num_threads, user_api="blas")

    torch.set_num_threads(job.training.num_threads)
    hooks = job.hooks or TrainingHooks()
    forecaster = fit(
        job.series,
        job.model_config,
        job.training,
        test_size=job.test_size,
        season_length=job.season_length,
        on_epoch=_reporter(hooks.progress),
        should_stop=_stopper(hooks.cancel),
    )
    return checkpoint_bytes(forecaster, job.metadata)


def run_backtest_job(job: BacktestPlan) -> BacktestReport:
    """Worker entry point of POST /backtest: the rolling-origin evaluation (backtest.py)."""
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=job.training.num_threads, user_api="blas")  # as run_training_job
    torch.set_num_threads(job.training.num_threads)
    return run_backtest(job)


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


_pools: dict[int, ProcessPoolExecutor] = {}


TRAINING_NICENESS = 10


def _background_priority() -> None:
    """Worker initializer: trainings are background work. When a training and the server
    want the same core, the scheduler gives it to the server (nice 10 weighs ~1/10 of 0), so
    requests keep their latency during a retrain; on an idle core training runs at full speed.
    """
    with contextlib.suppress(OSError):
        os.nice(TRAINING_NICENESS)
    # Linux's SCHED_IDLE goes further: the worker runs only on a core that would otherwise
    # idle (nice 10 still gets ~1/10 of a contended core). The load bench's retraining p99 did
    # not clearly move with it (docs/reliability.md), but it states the intent exactly.
    if hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    exit_with_parent()  # not an orphan holding torch's memory once the server is gone


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    """One pool per size per process: the workers' torch import (seconds) is paid once."""
    pool = _pools.get(workers)
    if pool is None:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_background_priority,
        )
        _pools[workers] = pool
    return pool


def _discard_pool(workers: int) -> None:
    pool = _pools.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def shutdown_pools() -> None:
    for workers in list(_pools):
        _discard_pool(workers)


atexit.register(shutdown_pools)


class TrainingRunner:
    """A bounded pool of training processes; excess trainings are refused with 429, or wait
    for a free process when `wait` is true (background jobs)."""

    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max_concurrent
        self.running = 0
        self._freed = asyncio.Condition()

    async def run(self, job: TrainingJob, *, wait: bool = False) -> bytes:
        if wait:
            async with self._freed:
                await self._freed.wait_for(lambda: self.running < self.max_concurrent)
                self.running += 1
        elif self.running >= self.max_concurrent:
            raise TooManyTrainingsError(
                f"{self.max_concurrent} trainings are already running (the most allowed, "
                "FORECAST_MAX_CONCURRENT_TRAININGS); retry when one has finished"
            )
        else:
            self.running += 1  # no await between the check and this: atomic on the event loop
        try:
            loop = asyncio.get_running_loop()
            pool = _shared_pool(self.max_concurrent)
            return await loop.run_in_executor(pool, run_training_job, job)
        except BrokenProcessPool as error:
            # A worker died (killed, out of memory): the next job gets a fresh pool.
            _discard_pool(self.max_concurrent)
            raise TrainingFailedError(
                "the training process died before finishing (killed or out of memory); "
                "nothing was published"
            ) from error
        finally:
            self.running -= 1
            async with self._freed:
                self._freed.notify()

    async def run_backtest(self, job: BacktestPlan) -> BacktestReport:
        """A backtest in the same pool, counted against the same limit (429 when it is full)."""
        if self.running >= self.max_concurrent:
            raise TooManyTrainingsError(
                f"{self.max_concurrent} trainings or backtests are already running (the most "
                "allowed, FORECAST_MAX_CONCURRENT_TRAININGS); retry when one has finished"
            )
        self.running += 1  # no await between the check and this: atomic on the event loop
        try:
            loop = asyncio.get_running_loop()
            pool = _shared_pool(self.max_concurrent)
            return await loop.run_in_executor(pool, run_backtest_job, job)
        except BrokenProcessPool as error:
            _discard_pool(self.max_concurrent)
            raise TrainingFailedError(
                "the backtest process died before finishing (killed or out of memory)"
            ) from error
        finally:
            self.running -= 1
            async with self._freed:
                self._freed.notify()
