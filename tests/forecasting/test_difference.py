from __future__ import annotations

import numpy as np
import pytest

from app.forecasting import Forecaster, ModelConfig, TrainingConfig, fit
from app.forecasting.checkpoint import checkpoint_bytes, parse_checkpoint

# A rising line with a season: the last values lie far above anything before the holdout.
T = np.arange(160, dtype=np.float64)
TREND = 0.2 * T + np.sin(2 * np.pi * T / 8)
TRAIN, FUTURE = TREND[:140], TREND[140:]


@pytest.fixture(scope="module")
def differenced() -> Forecaster:
    config = ModelConfig(window_size=8, hidden_size=8, difference=True)
    return fit(TRAIN, config, TrainingConfig(max_epochs=30, seed=0), test_size=8)


def test_difference_needs_two_values_per_window() -> None:
    with pytest.raises(ValueError, match="difference needs window_size >= 2"):
        ModelConfig(window_size=1, difference=True)
    assert ModelConfig(window_size=8, difference=True).input_length == 7
    assert ModelConfig(window_size=8).input_length == 8


def test_a_differenced_model_follows_a_trend_past_its_training_range(
    differenced: Forecaster,
) -> None:
    levels = fit(
        TRAIN,
        ModelConfig(window_size=8, hidden_size=8),
        TrainingConfig(max_epochs=30, seed=0),
        test_size=8,
    )
    error_differenced = np.mean(np.abs(differenced.forecast(20) - FUTURE))
    error_levels = np.mean(np.abs(levels.forecast(20) - FUTURE))
    assert error_differenced < 1.0  # the trend rises 4.0 over these 20 steps
    assert error_differenced < error_levels / 3


def test_forecast_equals_repeated_predict_next(differenced: Forecaster) -> None:
    history = list(TRAIN[:50])
    forecast = differenced.forecast(12, history)
    for value in forecast:
        # Two float32 computations of the same network (compiled kernel vs numpy steps).
        assert differenced.predict_next(history[-8:]) == pytest.approx(value, rel=1e-6)
        history.append(value)
    batched = differenced.forecast_many([TRAIN[:50], TRAIN], 12)
    np.testing.assert_allclose(batched[0], forecast, atol=1e-9)


def test_a_differenced_model_is_level_invariant(differenced: Forecaster) -> None:
    """Shifting the history shifts the forecast by the same amount: only steps are read."""
    history = TRAIN[-30:]
    np.testing.assert_allclose(
        differenced.forecast(6, history + 1000.0), differenced.forecast(6, history) + 1000.0
    )


def test_differencing_survives_a_checkpoint(differenced: Forecaster) -> None:
    loaded, _ = parse_checkpoint(checkpoint_bytes(differenced))
    assert loaded.config.difference
    np.testing.assert_array_equal(loaded.forecast(10), differenced.forecast(10))
    assert loaded.intervals is not None
