"""What the quality routes call: backtests, the kept versions of a model, and rollback."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from app.errors import (
    ConflictError,
    InvalidInputError,
    ModelNotFoundError,
    VersionNotFoundError,
)
from app.forecasting import CheckpointError, InvalidSeriesError
from app.forecasting.backtest import BacktestPlan as RollingPlan
from app.forecasting.backtest import BacktestReport, check_plan
from app.service import ForecastService, TrainSpec
from app.store import ModelSnapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BacktestPlan:
    n_windows: int
    horizon: int
    step: int
    refit: bool


# served now; candidate: kept, never served; retired: served before; unreadable: bad file
VersionStatus = Literal["served", "candidate", "retired", "unreadable"]


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    status: VersionStatus
    header: dict[str, Any] | None  # the checkpoint's verified header; None if unreadable


class QualityService:
    def __init__(self, service: ForecastService) -> None:
        self.service = service
        self.settings = service.settings
        self.store = service.store

    async def backtest(self, spec: TrainSpec, plan: BacktestPlan) -> BacktestReport:
        """Rolling-origin evaluation of `spec`'s configuration, in the training pool."""
        limit = self.settings.max_series_length
        if len(spec.series) > limit:
            raise InvalidInputError(
                f"series may hold at most {limit} values (FORECAST_MAX_SERIES_LENGTH); "
                f"got {len(spec.series)}"
            )
        if plan.horizon > self.settings.max_horizon:
            raise InvalidInputError(
                f"horizon may be at most {self.settings.max_horizon} (FORECAST_MAX_HORIZON); "
                f"got {plan.horizon}"
            )
        trainings = plan.n_windows if plan.refit else 1
        if spec.epochs is not None and spec.epochs * trainings > self.settings.max_epochs:
            raise InvalidInputError(
                f"a backtest trains {trainings} time(s), so epochs x trainings may be at most "
                f"{self.settings.max_epochs} (FORECAST_MAX_EPOCHS); got {spec.epochs} x "
                f"{trainings}"
            )
        try:
            check_plan(
                len(spec.series),
                spec.model_config.window_size,
                plan.n_windows,
                plan.horizon,
                plan.step,
            )
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error
        job = RollingPlan(
            series=np.asarray(spec.series, dtype=np.float64),
            model_config=spec.model_config,
            training=self.service._training_config(spec),
            n_windows=plan.n_windows,
            horizon=plan.horizon,
            step=plan.step,
            refit=plan.refit,
            season_length=spec.season_length,
            max_total_epochs=self.settings.max_epochs,
            max_total_seconds=self.settings.max_training_seconds,
        )
        try:
            return await self.service.runner.run_backtest(job)
        except InvalidSeriesError as error:
            raise InvalidInputError(str(error)) from error

    def versions(self, name: str) -> list[VersionInfo]:
        """Every kept version of `name`, oldest first, with its status."""
        headers = self.store.version_headers(name)
        if not headers:
            raise ModelNotFoundError(name)
        served = self.store.served_version(name)
        return [VersionInfo(v, _status(v, served, header), header) for v, header in headers]

    async def rollback(self, name: str, version: int | None) -> tuple[ModelSnapshot, int | None]:
        """Serve `version` (default: the newest kept one older than the served one).

        Returns (the snapshot now served, the version served before).
        """
        with self.store.training_lock(name):  # no publish or prune can interleave
            return await asyncio.to_thread(self._rollback, name, version)

    def _rollback(self, name: str, version: int | None) -> tuple[ModelSnapshot, int | None]:
        kept = self.store.versions(name)
        if not kept:
            raise ModelNotFoundError(name)
        served = self.store.served_version(name)
        if version is None:
            if served is None:
                raise ConflictError(
                    f"model {name!r} serves no version to roll back from; name the version to "
                    f"serve (kept: {kept})"
                )
            earlier = [v for v in reversed(kept) if v < served]
            if not earlier:
                raise ConflictError(
                    f"model {name!r} keeps no version older than the served version {served} "
                    f"(kept: {kept}); nothing to roll back to"
                )
            targets = earlier
        elif version not in kept:
            raise VersionNotFoundError(
                f"model {name!r} has no version {version}; kept versions: {kept} "
                "(the store keeps the last FORECAST_KEEP_VERSIONS)"
            )
        else:
            targets = [version]
        problems = []
        for target in targets:
            try:
                snapshot = self.store.load_version(name, target)
            except CheckpointError as error:
                logger.error("rollback of %s skips version %d: %s", name, target, error)
                problems.append(f"version {target}: {error}")
                continue
            self.store.serve(name, target, snapshot)
            logger.info(
                "rollback", extra={"model": name, "version": target, "previous_version": served}
            )
            return snapshot, served
        raise ConflictError(f"no version of {name!r} to roll back to loads: {'; '.join(problems)}")


def _status(version: int, served: int | None, header: dict[str, Any] | None) -> VersionStatus:
    if header is None:
        return "unreadable"
    if version == served:
        return "served"
    promotion = header.get("metadata", {}).get("promotion")
    was_promoted = not isinstance(promotion, dict) or bool(promotion.get("promoted"))
    return "retired" if was_promoted else "candidate"
