"""Image build step: train the built-in `default` model into an empty store with the app's code.

    python seed_default_model.py /model_store

The checkpoint is the app's own format (the same `DefaultModel.ensure` the server runs at
startup), so a container starts serving in seconds instead of training first. It fails the build
if the training fails.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.execution.local import LocalPool, shutdown_pools
from app.serving import ForecastService
from app.settings import Settings


async def seed(root: Path) -> None:
    # One torch thread, as the server's trainings on a one- or two-core container use.
    service = ForecastService(Settings(model_store=root, torch_threads=1), executor=LocalPool(1))
    service.store.load_all()
    snapshot = await service.default.ensure()
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
