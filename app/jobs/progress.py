"""A training worker's epoch reports as job progress, with an estimate of the time left."""

from __future__ import annotations

from typing import Any

from app.jobs.registry import EventTranslator
from app.jobs.state import Progress


def epoch_progress(refit_epochs: int) -> EventTranslator:
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
