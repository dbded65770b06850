"""Training off the event loop, in worker processes, with bounded torch threads.

Trainings run in a `spawn`ed process pool: serving keeps its own interpreter (no GIL shared with
an epoch loop) and a crash or leak in a training cannot take the server down. A worker returns
the finished checkpoint's bytes, which the server verifies with the same safe parser it uses for
files on disk before anything is published.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from app.errors import TooManyTrainingsError, TrainingFailedError
from app.forecasting import ModelConfig, TrainingConfig, fit
from app.forecasting.backtest import BacktestJob, BacktestReport, run_backtest
from app.forecasting.checkpoint import checkpoint_bytes
from app.forecasting.windowing import FloatArray

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """Everything a worker process needs; picklable."""

    series: FloatArray
    model_config: ModelConfig
    training: TrainingConfig
    test_size: int
    season_length: int | None
    metadata: dict[str, Any] = field(default_factory=dict)


def run_training_job(job: TrainingJob) -> bytes:
    """Worker entry point: train and return the checkpoint bytes."""
    import torch

    torch.set_num_threads(job.training.num_threads)
    forecaster = fit(
        job.series,
        job.model_config,
        job.training,
        test_size=job.test_size,
        season_length=job.season_length,
    )
    return checkpoint_bytes(forecaster, job.metadata)


def run_backtest_job(job: BacktestJob) -> BacktestReport:
    """Worker entry point of POST /backtest: the rolling-origin evaluation (backtest.py)."""
    import torch

    torch.set_num_threads(job.training.num_threads)
    return run_backtest(job)


_pools: dict[int, ProcessPoolExecutor] = {}


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    """One pool per size per process: the workers' torch import (seconds) is paid once."""
    pool = _pools.get(workers)
    if pool is None:
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
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
    """A bounded pool of training processes; excess trainings are refused with 429."""

    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max_concurrent
        self.running = 0

    async def run(self, job: TrainingJob) -> bytes:
        if self.running >= self.max_concurrent:
            raise TooManyTrainingsError(
                f"{self.max_concurrent} trainings are already running (the most allowed, "
                "FORECAST_MAX_CONCURRENT_TRAININGS); retry when one has finished"
            )
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

    async def run_backtest(self, job: BacktestJob) -> BacktestReport:
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
