"""The embedded executor: trainings and backtests in a local pool of worker processes.

Work runs in a `spawn`ed process pool: serving keeps its own interpreter (no GIL shared with an
epoch loop) and a crash or leak in a training cannot take the server down. Workers run at
background priority, so a request and a training competing for a core give it to the request.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from app.errors import TooManyTrainingsError, TrainingFailedError
from app.execution.executor import (
    BACKTEST,
    TRAINING,
    WorkKind,
    died,
    too_many,
    translated_failures,
)
from app.execution.hooks import WorkerHooks
from app.execution.process_guard import exit_with_parent
from app.execution.worker import TrainingPlan, backtest_in_worker, train_in_worker
from app.forecasting.backtest import BacktestPlan, BacktestReport
from app.forecasting.checkpoint import Checkpoint

TRAINING_NICENESS = 10

Plan = TypeVar("Plan")
Result = TypeVar("Result")


class LocalPool:
    """At most `capacity` trainings and backtests at once, in this machine's worker processes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.running = 0
        self.waiting = 0  # works of background jobs waiting for a place
        self._freed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def train(
        self, plan: TrainingPlan, *, hooks: WorkerHooks | None = None, wait: bool = False
    ) -> Checkpoint:
        with translated_failures(TRAINING, plan.metadata.name):
            data = await self._run(train_in_worker, plan, hooks, wait, TRAINING)
            # Verified off the event loop, once: the store writes and serves this parse.
            return await asyncio.to_thread(Checkpoint.parse, data)

    async def backtest(
        self, plan: BacktestPlan, *, hooks: WorkerHooks | None = None, wait: bool = False
    ) -> BacktestReport:
        with translated_failures(BACKTEST):
            return await self._run(backtest_in_worker, plan, hooks, wait, BACKTEST)

    async def _run(
        self,
        entry: Callable[[Plan, WorkerHooks | None], Result],
        plan: Plan,
        hooks: WorkerHooks | None,
        wait: bool,
        kind: WorkKind,
    ) -> Result:
        await self._take_place(wait)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(_shared_pool(self.capacity), entry, plan, hooks)
        except BrokenProcessPool as error:
            # A worker died (killed, out of memory): the next work gets a fresh pool.
            _discard_pool(self.capacity)
            raise TrainingFailedError(died(kind)) from error
        finally:
            self.running -= 1
            freed = self._condition()
            async with freed:
                freed.notify()

    def _condition(self) -> asyncio.Condition:
        """The condition places are freed on, of the running event loop (a server started
        again, in a new loop, gets a new one: asyncio's primitives belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._freed is None or self._loop is not loop:
            self._freed, self._loop = asyncio.Condition(), loop
        return self._freed

    async def _take_place(self, wait: bool) -> None:
        """One of the `capacity` places: waited for, or refused with 429 when none is free."""
        if wait:
            freed = self._condition()
            async with freed:
                self.waiting += 1
                try:
                    await freed.wait_for(lambda: self.running < self.capacity)
                finally:
                    self.waiting -= 1
                self.running += 1
        elif self.running >= self.capacity:
            raise TooManyTrainingsError(too_many(self.capacity))
        else:
            self.running += 1  # no await between the check and this: atomic on the event loop


_pools: dict[int, ProcessPoolExecutor] = {}


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
