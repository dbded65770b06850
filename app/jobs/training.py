"""Training as a background job: progress with an estimate of the rest, then publish."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.forecasting import TrainingConfig
from app.jobs.registry import EventTranslator, JobContext, JobWork
from app.jobs.state import Progress

if TYPE_CHECKING:
    from app.service import ForecastService, TrainSpec
    from app.store import ModelSnapshot


def training_progress(refit_epochs: int) -> EventTranslator:
    """Turn a worker's `EpochProgress` dicts into `Progress`, with an estimate of the rest."""
    per_epoch = 0.0

    def translate(event: dict[str, Any]) -> Progress:
        nonlocal per_epoch
        epoch, planned = int(event["epoch"]), int(event["max_epochs"])
        elapsed, budget = float(event["elapsed_seconds"]), float(event["max_seconds"])
        if event["phase"] == "fit":
            per_epoch = elapsed / max(epoch, 1)
            # The fit ends at its epoch plan or its time budget, whichever comes first; early
            # stopping can end it sooner, so this is an upper estimate.
            remaining = min((planned - epoch) * per_epoch, max(0.0, budget - elapsed))
            remaining += refit_epochs * per_epoch
        else:
            remaining = (planned - epoch) * per_epoch
        total = elapsed + remaining
        return Progress(
            phase=str(event["phase"]),
            epoch=epoch,
            epochs_planned=planned,
            time_budget_seconds=budget,
            train_loss=event.get("train_loss"),
            validation_loss=event.get("validation_loss"),
            eta_seconds=round(remaining, 3),
            fraction=round(elapsed / total, 4) if total > 0 else 1.0,
        )

    return translate


def training_work(
    service: ForecastService, spec: TrainSpec, render: Callable[[ModelSnapshot], dict[str, Any]]
) -> JobWork:
    """A job that trains `spec` in a worker process, reporting each epoch, and publishes it.

    `render` turns the published snapshot into the job's result (the body of a synchronous
    POST /train).
    """
    # The refit on the whole series follows only when there is a holdout (see `fit`).
    refit_epochs = TrainingConfig().refit_epochs if spec.test_size > 0 else 0

    async def work(context: JobContext) -> dict[str, Any]:
        async with context.process_hooks(training_progress(refit_epochs)) as hooks:
            snapshot = await service.train(spec, hooks=hooks)
        return render(snapshot)

    return work
