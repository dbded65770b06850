"""Training and publishing: a request's spec trained in the executor, gated, written, served.

A training holds the model's training lock (one per name, across replicas), takes the next
version number, runs in the executor and comes back as a verified checkpoint; the promotion gate
(forecasting/promotion.py) then serves it or keeps it as a candidate, and the decision goes into
the version's metadata. The old version serves until the new one is swapped in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from app.errors import ServiceError, TrainingInProgressError
from app.execution.executor import Executor
from app.execution.hooks import WorkerHooks
from app.execution.worker import TrainingPlan
from app.forecasting import TrainingConfig
from app.forecasting.checkpoint import Checkpoint
from app.forecasting.metadata import Promotion, VersionMetadata, utc_now
from app.forecasting.promotion import PromotePolicy, decide_promotion
from app.jobs import JobContext, JobRegistry, JobState, epoch_progress
from app.serving.choices import TrainingInput, training_spec
from app.serving.limits import Limits
from app.serving.metrics import ServiceMetrics
from app.serving.specs import TrainingSpec
from app.store import ModelSnapshot, ModelStore

logger = logging.getLogger(__name__)

Render = Callable[[ModelSnapshot], dict[str, Any]]


class Publishing:
    def __init__(
        self,
        store: ModelStore,
        limits: Limits,
        executor: Executor,
        jobs: JobRegistry,
        metrics: ServiceMetrics,
    ) -> None:
        self.store = store
        self.limits = limits
        self.executor = executor
        self.jobs = jobs
        self.metrics = metrics

    async def train(self, request: TrainingInput) -> ModelSnapshot:
        """Train a new version of `request.model` and publish it; the old one serves meanwhile.
        Refused with 429 when every training process is busy."""
        return await self.publish(await self._spec(request))

    async def start(self, request: TrainingInput, render: Render) -> JobState:
        """The same training as a background job: it waits for a free training process, its
        worker reports each epoch, DELETE /jobs/{id} stops it; `render` makes its result."""
        spec = await self._spec(request)
        # Refuse now what the job would refuse later.
        self.limits.trainable(spec)
        self.limits.training(spec.options)
        if self.store.is_training(spec.name):
            raise TrainingInProgressError(spec.name)
        # The refit on the whole series follows only when there is a holdout (see `fit`).
        refit_epochs = TrainingConfig().refit_epochs if spec.test_size > 0 else 0

        async def work(context: JobContext) -> dict[str, Any]:
            async with context.process_hooks(epoch_progress(refit_epochs)) as hooks:
                snapshot = await self.publish(spec, hooks=hooks)
            return render(snapshot)

        return self.jobs.submit("train", work, subject=spec.name)

    async def _spec(self, request: TrainingInput) -> TrainingSpec:
        self.limits.series(request.series)  # before any work on it
        return await asyncio.to_thread(training_spec, request)  # `auto`: numpy work

    async def publish(
        self, spec: TrainingSpec, *, hooks: WorkerHooks | None = None
    ) -> ModelSnapshot:
        """Train `spec` and publish it, counting the outcome. With `hooks` (a background job)
        the training waits for a free process instead of being refused."""
        started = time.perf_counter()
        outcome = "success"
        try:
            return await self._publish(spec, hooks)
        except ServiceError as error:
            outcome = error.code
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            outcome = "internal_error"
            raise
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_training(outcome, seconds)
            if outcome != "success":
                # A replica waiting for another's default model polls: keep that out of info.
                logger.log(
                    logging.DEBUG if outcome == "training_in_progress" else logging.INFO,
                    "training not published",
                    extra={"model": spec.name, "outcome": outcome, "seconds": round(seconds, 3)},
                )

    async def _publish(self, spec: TrainingSpec, hooks: WorkerHooks | None) -> ModelSnapshot:
        self.limits.trainable(spec)
        training = self.limits.training(spec.options)
        with self.store.training_lock(spec.name):
            version = self.store.next_version(spec.name)
            metadata = VersionMetadata(spec.name, version, utc_now(), spec.choices, spec.time_index)
            plan = TrainingPlan(
                spec.series,
                spec.model_config,
                training,
                spec.test_size,
                spec.season_length,
                metadata,
            )
            checkpoint = await self.executor.train(plan, hooks=hooks, wait=hooks is not None)
            snapshot = await asyncio.to_thread(self._gate, checkpoint, spec.promote)
        _log_trained(snapshot)
        return snapshot

    def _gate(self, checkpoint: Checkpoint, policy: PromotePolicy) -> ModelSnapshot:
        """Serve the new version if `policy` lets it replace the serving one, else keep it as a
        candidate; either way the decision goes into its metadata. Call under the training lock."""
        metadata = checkpoint.metadata
        assert metadata is not None  # publishing's own plans always carry it
        serving = self.store.find(metadata.name)
        decision = decide_promotion(
            policy,
            checkpoint.forecaster.evaluation,
            serving.forecaster.evaluation if serving is not None else None,
            serving.version if serving is not None else None,
        )
        served = metadata.version if decision.promoted else (serving.version if serving else None)
        final = checkpoint.with_metadata(metadata.promoted(Promotion.of(decision, served)))
        if decision.promoted:
            return self.store.publish(metadata.name, metadata.version, final)
        return self.store.save_candidate(metadata.name, metadata.version, final)


def _log_trained(snapshot: ModelSnapshot) -> None:
    """One structured line per published training: no series values (they are users' data)."""
    training = snapshot.forecaster.training
    evaluation = snapshot.forecaster.evaluation
    metrics = {
        key: value
        for key, value in (evaluation.to_dict() if evaluation is not None else {}).items()
        if isinstance(value, int | float) or value is None
    }
    logger.info(
        "trained",
        extra={
            "model": snapshot.name,
            "version": snapshot.version,
            "epochs": training.epochs,
            "refit_epochs": training.refit_epochs,
            "stopped_by": training.stopped_by,
            "seconds": round(training.seconds, 3),
            "metrics": metrics,
        },
    )
