from __future__ import annotations

import numpy as np
import pytest

from app.forecasting import (
    Forecaster,
    InvalidSeriesError,
    ModelConfig,
    TrainingCancelledError,
    TrainingConfig,
    fit,
)
from app.forecasting.engine import InferenceWeights, forecast_pipelined

TUTORIAL_TEST_MSE = 0.0089


def test_default_training_beats_the_tutorial_on_its_sine(sine_forecaster: Forecaster) -> None:
    evaluation = sine_forecaster.evaluation
    assert evaluation is not None
    assert evaluation.test_size == 40
    assert evaluation.test_mse is not None
    assert evaluation.test_mse < TUTORIAL_TEST_MSE
    # And by a wide margin: the naive forecast is ~0.52 on this holdout.
    assert evaluation.test_mse < 1e-3
    assert evaluation.naive_mse == pytest.approx(
        float(np.mean((sine_forecaster.series[-40:] - sine_forecaster.series[-41]) ** 2))
    )
    assert evaluation.season_length == 40
    assert evaluation.test_rmse == pytest.approx(evaluation.test_mse**0.5)


@pytest.mark.parametrize(("factor", "offset"), [(1000.0, 5000.0), (1e-3, 0.0)])
def test_scaled_copies_reach_the_same_relative_accuracy(
    sine: np.ndarray, sine_forecaster: Forecaster, factor: float, offset: float
) -> None:
    scaled = fit(sine * factor + offset, ModelConfig(), TrainingConfig(seed=0), test_size=40)
    assert scaled.evaluation is not None
    assert sine_forecaster.evaluation is not None
    relative = scaled.evaluation.test_mse / factor**2  # type: ignore[operator]
    assert relative < TUTORIAL_TEST_MSE / 10
    # Same data up to an affine map and same seed: the same model up to float rounding.
    assert relative == pytest.approx(sine_forecaster.evaluation.test_mse, rel=0.5)


def test_same_data_and_seed_give_the_same_forecast() -> None:
    series = np.sin(np.arange(150) * 0.25)
    config, training = (
        ModelConfig(window_size=10, hidden_size=8),
        TrainingConfig(max_epochs=3, seed=7),
    )
    first = fit(series, config, training, test_size=10)
    second = fit(series, config, training, test_size=10)
    np.testing.assert_array_equal(first.forecast(20), second.forecast(20))
    other_seed = fit(series, config, TrainingConfig(max_epochs=3, seed=8), test_size=10)
    assert not np.array_equal(first.forecast(20), other_seed.forecast(20))


def test_holdout_is_forecast_from_the_model_that_never_saw_it() -> None:
    """The reported holdout forecast is the pre-refit model's tutorial-style forecast."""
    series = np.sin(np.arange(200) * 0.2) * 3 + 1
    progress: list[str] = []
    forecaster = fit(
        series,
        ModelConfig(window_size=10, hidden_size=8),
        TrainingConfig(max_epochs=4, refit_epochs=2, seed=3),
        test_size=15,
        on_epoch=lambda p: progress.append(p.phase),
    )
    assert progress == ["fit"] * 4 + ["refit"] * 2
    assert forecaster.evaluation is not None
    assert len(forecaster.evaluation.forecast) == 15
    np.testing.assert_array_equal(forecaster.evaluation.actual, series[-15:])
    # After the refit the weights differ, so the final model's forecast of the holdout differs.
    weights = InferenceWeights.from_state_dict(forecaster.config, forecaster.state)
    window = forecaster.scaler.transform(series[-25:-15])[None, :]
    refit_forecast = forecaster.scaler.inverse_transform(forecast_pipelined(weights, window, 15))[0]
    assert not np.allclose(refit_forecast, forecaster.evaluation.forecast)


def test_scaler_is_fitted_on_the_training_part_only() -> None:
    series = np.concatenate([np.sin(np.arange(100) * 0.3), [1000.0] * 5])
    forecaster = fit(
        series, ModelConfig(window_size=5, hidden_size=4), TrainingConfig(max_epochs=1), test_size=5
    )
    assert forecaster.scaler.center + forecaster.scaler.scale < 2.0


def test_early_stopping_and_epoch_cap() -> None:
    series = np.sin(np.arange(300) * 0.3)
    capped = fit(
        series, ModelConfig(window_size=8, hidden_size=8), TrainingConfig(max_epochs=2), test_size=0
    )
    assert capped.training.epochs == 2
    assert capped.training.stopped_by == "max_epochs"
    assert capped.evaluation is None
    # lr decay 1e-9 per epoch freezes learning after epoch 1, so validation stops improving.
    stalled = fit(
        series,
        ModelConfig(window_size=8, hidden_size=8),
        TrainingConfig(max_epochs=50, patience=2, lr_decay=1e-9, refit_epochs=0),
        test_size=0,
    )
    assert stalled.training.stopped_by == "early_stopping"
    assert stalled.training.epochs <= stalled.training.best_epoch + 2


def test_time_budget_stops_training() -> None:
    series = np.sin(np.arange(400) * 0.3)
    forecaster = fit(
        series,
        ModelConfig(window_size=20, hidden_size=16),
        TrainingConfig(max_epochs=10_000, max_seconds=0.05, patience=10_000),
        test_size=0,
    )
    assert forecaster.training.stopped_by == "time_budget"
    assert forecaster.training.epochs < 10_000


def test_cancellation_stops_at_the_next_batch() -> None:
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    with pytest.raises(TrainingCancelledError):
        fit(np.sin(np.arange(300) * 0.3), ModelConfig(window_size=8), should_stop=stop, test_size=0)
    assert calls == 4


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells_train(cell: str) -> None:
    series = np.sin(np.arange(300) * 2 * np.pi / 20)
    forecaster = fit(
        series,
        ModelConfig(window_size=20, hidden_size=16, cell=cell),  # type: ignore[arg-type]
        TrainingConfig(max_epochs=15, seed=0),
        test_size=20,
    )
    assert forecaster.evaluation is not None
    assert forecaster.evaluation.test_mse < forecaster.evaluation.naive_mse  # type: ignore[operator]


def test_too_short_series_says_how_many_values_are_needed() -> None:
    with pytest.raises(InvalidSeriesError, match=r"at least 81 values .* got 80"):
        fit(np.zeros(80), ModelConfig(), test_size=40)


def test_constant_series_trains_and_forecasts_the_constant() -> None:
    forecaster = fit(
        np.full(60, 7.5),
        ModelConfig(window_size=5, hidden_size=4),
        TrainingConfig(max_epochs=5),
        test_size=5,
    )
    assert np.all(np.isfinite(forecaster.forecast(10)))
    assert forecaster.evaluation is not None
    assert forecaster.evaluation.season_length is None
    assert forecaster.evaluation.mase is None  # the in-sample naive error is zero: not computable


def test_torch_threads_are_bounded_during_training_and_restored_after() -> None:
    import torch

    seen: list[int] = []
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fit(
            np.sin(np.arange(60) * 0.3),
            ModelConfig(window_size=5, hidden_size=4),
            TrainingConfig(max_epochs=2, num_threads=1),
            test_size=0,
            on_epoch=lambda _: seen.append(torch.get_num_threads()),
        )
        assert seen == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
