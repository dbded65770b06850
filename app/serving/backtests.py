"""Backtests: a configuration replayed on rolling origins of a series, in the executor."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidInputError
from app.execution.executor import Executor
from app.forecasting import InvalidSeriesError
from app.forecasting.backtest import BacktestPlan, BacktestReport, check_plan
from app.jobs import JobContext, JobRegistry, JobState
from app.serving.choices import BacktestInput, backtest_spec
from app.serving.limits import Limits
from app.serving.specs import BacktestSpec


@dataclass(frozen=True, slots=True)
class BacktestResult:
    spec: BacktestSpec  # what was replayed, `auto` resolved
    report: BacktestReport


Render = Callable[[BacktestResult], dict[str, Any]]


class Backtests:
    def __init__(self, limits: Limits, executor: Executor, jobs: JobRegistry) -> None:
        self.limits = limits
        self.executor = executor
        self.jobs = jobs

    async def run(self, request: BacktestInput) -> BacktestResult:
        """Replay `request`; refused with 429 when every training process is busy."""
        spec, plan = await self._plan(request)
        return BacktestResult(spec, await self.executor.backtest(plan))

    async def start(self, request: BacktestInput, render: Render) -> JobState:
        """The same backtest as a background job: it waits for a free training process, and
        DELETE /jobs/{id} stops it; `render` makes its result."""
        spec, plan = await self._plan(request)

        async def work(context: JobContext) -> dict[str, Any]:
            async with context.process_hooks() as hooks:
                report = await self.executor.backtest(plan, hooks=hooks, wait=True)
            return render(BacktestResult(spec, report))

        return self.jobs.submit("backtest", work, subject=spec.training.name)

    async def _plan(self, request: BacktestInput) -> tuple[BacktestSpec, BacktestPlan]:
        """The checked spec and the plan a worker runs. Nothing is saved."""
        self.limits.series(request.series)
        self.limits.horizon(request.horizon)
        spec = await asyncio.to_thread(backtest_spec, request)  # `auto`: numpy work
        training = spec.training
        trainings = spec.n_windows if spec.refit else 1
        self.limits.epochs(training.options.epochs, backtest_trainings=trainings)
        try:
            check_plan(
                len(training.series),
                training.model_config.window_size,
                spec.n_windows,
                spec.horizon,
                spec.step,
            )
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error
        plan = BacktestPlan(
            series=training.series,
            model_config=training.model_config,
            training=self.limits.training(training.options),
            n_windows=spec.n_windows,
            horizon=spec.horizon,
            step=spec.step,
            refit=spec.refit,
            season_length=training.season_length,
            max_total_epochs=self.limits.max_epochs,
            max_total_seconds=self.limits.max_training_seconds,
        )
        return spec, plan
