"""Image build step: train the built-in `default` model into an empty store with the app's code.

    python seed_default_model.py /model_store

The checkpoint is the app's own format (the same `ForecastService.ensure_default_model` the server
runs at startup), so a container starts serving in seconds instead of training first. It fails
the build if the training fails.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.service import ForecastService
from app.settings import Settings
from app.store import ModelStore
from app.trainer import TrainingRunner, shutdown_pools


async def seed(root: Path) -> None:
    settings = Settings(model_store=root)
    store = ModelStore(root, keep_versions=settings.keep_versions)
    store.load_all()
    service = ForecastService(settings, store, TrainingRunner(1))
    snapshot = await service.ensure_default_model()
    training = snapshot.forecaster.training
    evaluation = snapshot.forecaster.evaluation
    print(
        f"default model version {snapshot.version}: {training.epochs} epochs in "
        f"{training.seconds:.1f} s, holdout MSE "
        f"{evaluation.test_mse if evaluation else 'n/a'} -> {root}"
    )


if __name__ == "__main__":  # the training pool spawns processes that re-import this module
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} STORE_DIRECTORY")
    try:
        asyncio.run(seed(Path(sys.argv[1])))
    finally:
        shutdown_pools()
