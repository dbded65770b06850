from __future__ import annotations

import numpy as np
import pytest

from app.forecasting import Forecaster, ModelConfig, TrainingConfig, fit


def tutorial_sine() -> np.ndarray:
    """The tutorial's series: sin(x * 2 * 3.1416 / 40) for x = 0..799."""
    x = np.arange(800, dtype=np.float64)
    return np.sin(x * 2 * 3.1416 / 40)


@pytest.fixture(scope="session")
def sine() -> np.ndarray:
    return tutorial_sine()


@pytest.fixture(scope="session")
def sine_forecaster(sine: np.ndarray) -> Forecaster:
    """The default model trained on the tutorial's sine with default settings."""
    return fit(sine, ModelConfig(), TrainingConfig(seed=0), test_size=40)


@pytest.fixture(scope="session")
def tiny_forecaster() -> Forecaster:
    """A small, briefly trained model for tests of mechanics, not accuracy."""
    series = np.sin(np.arange(120) * 0.3) + 0.1 * np.arange(120) / 120
    return fit(
        series,
        ModelConfig(window_size=8, hidden_size=6),
        TrainingConfig(max_epochs=2, refit_epochs=1, seed=1),
        test_size=10,
    )
