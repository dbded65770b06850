"""`ForecastService`: the one object the routes depend on.

It builds the serving parts from one `Settings` and holds them; a route calls one method of
one part:

    predictions   the read path: next value, forecasts, charts, the served models
    publishing    training and publishing new versions (now, or as a background job)
    backtests     rolling-origin evaluations (now, or as a background job)
    versions      kept versions: listing, rollback, delete
    jobs          the background jobs themselves (app/jobs)

`start` and `stop` bracket its life in a server: the store is loaded, the inference kernel
compiled and the default model served (or trained) before it reports `ready`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.execution.executor import Executor
from app.execution.local import LocalPool
from app.forecasting.kernel import warm_up as warm_up_kernel
from app.jobs import JobRegistry
from app.serving.backtests import Backtests
from app.serving.default_model import DefaultModel
from app.serving.limits import Limits
from app.serving.metrics import ServiceMetrics
from app.serving.predictions import Predictions, limit_inference_threads
from app.serving.publishing import Publishing
from app.serving.versions import Versions
from app.settings import Settings
from app.store import ModelStore

logger = logging.getLogger(__name__)


class ForecastService:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ModelStore | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or ModelStore(settings.model_store, keep_versions=settings.keep_versions)
        self.executor = executor or LocalPool(settings.max_concurrent_trainings)
        self.limits = Limits(settings)
        self.metrics = ServiceMetrics(self._served_versions)
        self.jobs = JobRegistry(
            max_jobs=settings.max_jobs,
            max_running=settings.max_concurrent_trainings,
            retention_seconds=settings.job_retention_seconds,
            max_finished=settings.max_finished_jobs,
        )
        self.publishing = Publishing(
            self.store, self.limits, self.executor, self.jobs, self.metrics
        )
        self.default = DefaultModel(
            self.store,
            self.publishing.publish,
            max_epochs=settings.default_max_epochs,
            seed=settings.default_seed,
        )
        self.predictions = Predictions(self.store, self.limits, self.default)
        self.backtests = Backtests(self.limits, self.executor, self.jobs)
        self.versions = Versions(self.store)
        self._startup: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """True once the default model serves."""
        return self.default.ready

    def _served_versions(self) -> list[tuple[str, int]]:
        return [(s.name, s.version) for s in self.store.snapshots()]

    async def start(self) -> None:
        """Load the store; then, in the background, prepare the default model. After `stop`,
        it starts again as new: no jobs, not ready until the default model serves."""
        limit_inference_threads()
        self.jobs.open()
        self.default.ready = False
        await asyncio.to_thread(self.store.load_all)
        self._startup = asyncio.create_task(self._prepare_default())

    async def stop(self) -> None:
        """Stop unfinished jobs (marked failed; nothing half-trained is published)."""
        await self.jobs.shutdown()
        if self._startup is not None:
            self._startup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._startup

    async def _prepare_default(self) -> None:
        try:
            # Before the service reports ready, so no request waits for numba's compiler.
            seconds = await asyncio.to_thread(warm_up_kernel)
            logger.info("inference kernel ready", extra={"seconds": round(seconds, 3)})
            await self.default.ensure()
        except Exception:
            logger.exception("the default model could not be prepared; /readyz stays 503")
