from __future__ import annotations

import numpy as np
import pytest

from app.forecasting import infer_season_length
from app.forecasting.evaluation import (
    evaluate_holdout,
    mase_scale,
    seasonal_naive_forecast,
    smape,
)


@pytest.mark.parametrize("period", [4, 12, 40, 52])
def test_season_length_is_found_from_the_autocorrelation(period: int) -> None:
    x = np.arange(20 * period)
    noise = np.random.default_rng(period).normal(scale=0.2, size=len(x))
    assert infer_season_length(np.sin(2 * np.pi * x / period) + noise) == period


@pytest.mark.parametrize(
    "series",
    [np.arange(200.0), np.random.default_rng(0).normal(size=300), np.zeros(50), np.ones(3)],
)
def test_no_season_for_trend_noise_or_constant(series: np.ndarray) -> None:
    assert infer_season_length(series) is None


def test_seasonal_naive_repeats_the_last_season() -> None:
    train = np.array([1.0, 2, 3, 10, 20, 30])
    np.testing.assert_array_equal(
        seasonal_naive_forecast(train, 7, 3), [10, 20, 30, 10, 20, 30, 10]
    )


def test_holdout_metrics_on_a_hand_made_case() -> None:
    train = np.array([0.0, 1, 0, 1, 0, 1])
    actual = np.array([0.0, 1])
    predicted = np.array([0.5, 1])
    result = evaluate_holdout(train, actual, predicted, season_length=2)
    assert result.test_mse == pytest.approx(0.125)
    assert result.test_mae == pytest.approx(0.25)
    assert result.naive_mse == pytest.approx(0.5)  # last value 1 repeated
    assert result.seasonal_naive_mse == pytest.approx(0.0)
    # Season 2 in-sample naive error is zero: MASE is not computable and says so.
    assert result.mase is None
    assert mase_scale(np.array([0.0, 1, 3]), 1) == pytest.approx(1.5)


def test_smape_bounds() -> None:
    assert smape(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)
