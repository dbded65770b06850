"""The built-in `default` model: always the tutorial's LSTM on its sine, served from startup.

Clients rely on sending it 40-value windows, so it keeps the tutorial's configuration whatever
a training of it asks (limits.py refuses others). At startup the stored one is served, or it
is trained; replicas starting together on an empty shared store race for the training lock, and
the losers wait until the winner's model appears (or the winner dies and frees the lock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from app.errors import TrainingInProgressError
from app.forecasting import ModelConfig
from app.serving.specs import TrainingOptions, TrainingSpec
from app.store import ModelSnapshot, ModelStore

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
TUTORIAL = ModelConfig()  # LSTM, window 40, hidden 50, one layer
POLL_SECONDS = 0.5  # how often a replica waiting for another's default looks


def tutorial_series() -> np.ndarray:
    """The tutorial's sine: sin(x * 2 * 3.1416 / 40) for x = 0..799."""
    return np.sin(np.arange(800, dtype=np.float64) * 2 * 3.1416 / 40)


Publish = Callable[[TrainingSpec], Awaitable[ModelSnapshot]]


class DefaultModel:
    """Whether the default model serves yet (`ready`), and how it comes to."""

    def __init__(
        self, store: ModelStore, publish: Publish, *, max_epochs: int | None, seed: int
    ) -> None:
        self.store = store
        self.ready = False
        self._publish = publish
        self._spec = TrainingSpec(
            name=DEFAULT_MODEL,
            series=tutorial_series(),
            model_config=TUTORIAL,
            test_size=40,
            season_length=None,
            options=TrainingOptions(epochs=max_epochs, seed=seed),
        )

    async def ensure(self) -> ModelSnapshot:
        """Serve the stored default model, or train it on the tutorial's sine and save it."""
        waiting = False
        while True:
            existing = self.store.find(DEFAULT_MODEL)
            if existing is not None:
                self.ready = True
                return existing
            if not waiting:
                logger.info(
                    "no usable default model in %s: training it on the tutorial's sine",
                    self.store.root,
                )
            try:
                snapshot = await self._publish(self._spec)
            except TrainingInProgressError:
                if not waiting:
                    logger.info("another process is training the default model: waiting for it")
                waiting = True
                await asyncio.sleep(POLL_SECONDS)
                continue
            self.ready = True
            return snapshot
