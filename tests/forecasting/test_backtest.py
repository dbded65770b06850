from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.forecasting import ModelConfig, TrainingConfig
from app.forecasting.backtest import (
    BacktestPlan,
    check_plan,
    run_backtest,
    window_origins,
)
from app.forecasting.errors import InvalidSeriesError
from app.forecasting.evaluation import mase_scale

SERIES = np.sin(np.arange(150) * 2 * np.pi / 12) + 0.02 * np.arange(150)
CONFIG = ModelConfig(window_size=12, hidden_size=6)


def job(**overrides: object) -> BacktestPlan:
    values: dict[str, Any] = {
        "series": SERIES,
        "model_config": CONFIG,
        "training": TrainingConfig(max_epochs=2, seed=3),
        "n_windows": 3,
        "horizon": 6,
        "step": 6,
        "season_length": 12,
    }
    values.update(overrides)
    return BacktestPlan(**values)


def test_window_origins_end_at_the_series_end() -> None:
    assert window_origins(100, 3, 10, 5) == [80, 85, 90]
    assert window_origins(100, 1, 10, 5) == [90]


def test_plans_the_series_cannot_hold_are_refused() -> None:
    # first window: window_size + 2 = 14 values, then 6 + 2 * 6 more
    with pytest.raises(InvalidSeriesError, match=r"needs at least 32 values.*got 31"):
        check_plan(31, 12, 3, 6, 6)
    check_plan(32, 12, 3, 6, 6)
    with pytest.raises(InvalidSeriesError, match=r"n_windows must be 1\.\.20"):
        check_plan(1000, 12, 21, 6, 6)


def test_refit_backtest_scores_every_window_against_the_baselines() -> None:
    report = run_backtest(job())
    assert report.refit
    assert report.trainings == 3
    assert [w.origin for w in report.windows] == [132, 138, 144]
    for window in report.windows:
        train = SERIES[: window.origin]
        actual = SERIES[window.origin : window.origin + 6]
        assert window.actual == pytest.approx(actual)
        assert window.train_length == window.origin
        assert 1 <= window.epochs <= 2
        naive = window.scores["naive"]
        assert naive.mae == pytest.approx(np.mean(np.abs(actual - train[-1])))
        seasonal = window.scores["seasonal_naive"]
        assert seasonal.mae == pytest.approx(np.mean(np.abs(actual - train[-12:-6])))
        model = window.scores["model"]
        expected_mae = np.mean(np.abs(actual - np.array(window.forecast)))
        assert model.mae == pytest.approx(expected_mae)
        assert model.rmse is not None
        assert model.rmse >= model.mae
        assert model.mase == pytest.approx(expected_mae / mase_scale(train, 12))
    maes = [w.scores["model"].mae for w in report.windows]
    assert report.aggregate["model"].mae == pytest.approx(np.mean(maes))
    assert set(report.aggregate) == {"model", "naive", "seasonal_naive"}


def test_without_refit_one_model_forecasts_every_window() -> None:
    report = run_backtest(job(refit=False))
    assert report.trainings == 1
    assert [w.epochs > 0 for w in report.windows] == [True, False, False]
    refit = run_backtest(job())
    # Window 0 trains on the same values with the same seed either way.
    assert report.windows[0].forecast == pytest.approx(refit.windows[0].forecast)


def test_the_epoch_budget_is_shared_between_trainings() -> None:
    report = run_backtest(job(training=TrainingConfig(max_epochs=50, seed=1), max_total_epochs=3))
    assert [w.epochs for w in report.windows] == [1, 1, 1]


def test_without_a_season_there_is_no_seasonal_baseline() -> None:
    report = run_backtest(job(season_length=None, n_windows=1))
    assert set(report.aggregate) == {"model", "naive"}
