from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.forecasting.auto import (
    WINDOW_BOUNDS,
    choose_difference,
    choose_season_length,
    choose_window_size,
)


def seasonal(period: int, length: int, *, trend: float = 0.0, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(period)
    t = np.arange(length, dtype=np.float64)
    return np.sin(2 * np.pi * t / period) + trend * t + noise * rng.standard_normal(length)


@pytest.mark.parametrize(("period", "window"), [(12, 12), (40, 40), (4, 8), (7, 14), (24, 24)])
def test_a_seasonal_series_gets_its_season_and_a_whole_number_of_seasons(
    period: int, window: int
) -> None:
    series = seasonal(period, 600, noise=0.1)
    season = choose_season_length(series)
    assert season.value == period
    assert season.source == "auto"
    assert choose_window_size(series, season.value).value == window


def test_a_linear_trend_is_removed_before_looking_for_the_season() -> None:
    series = seasonal(12, 200, trend=0.05)  # the raw ACF's first peak is at lag 11
    assert choose_season_length(series).value == 12
    assert choose_season_length(seasonal(12, 400, trend=0.2)).value == 12  # trend dominates


def test_a_curved_trend_is_differenced_away() -> None:
    t = np.arange(400, dtype=np.float64)
    choice = choose_season_length(np.sin(2 * np.pi * t / 12) + 0.002 * t**2)
    assert choice.value == 12
    assert "first differences" in choice.reason


def test_white_noise_has_no_season_and_the_smallest_window() -> None:
    noise = np.random.default_rng(0).standard_normal(500)
    assert choose_season_length(noise).value is None
    window = choose_window_size(noise, None)
    assert window.value == WINDOW_BOUNDS[0]
    assert "bounded" in window.reason


def test_a_persistent_series_gets_the_largest_window() -> None:
    walk = np.cumsum(np.random.default_rng(1).standard_normal(2000))
    assert choose_window_size(walk, None).value == WINDOW_BOUNDS[1]


def test_the_window_leaves_windows_to_learn_from() -> None:
    series = seasonal(40, 100)
    choice = choose_window_size(series, 40)
    assert choice.value == 25  # a quarter of 100, not 40
    assert "quarter" in choice.reason


def test_only_a_strong_linear_trend_is_differenced() -> None:
    t = np.arange(300, dtype=np.float64)
    assert choose_difference(0.05 * t + np.sin(t)).value == 1  # the line explains ~95%
    assert choose_difference(0.001 * t + np.sin(t)).value == 0
    assert choose_difference(seasonal(12, 300, noise=0.3)).value == 0
    assert "explains" in choose_difference(0.05 * t).reason
    assert choose_difference(np.full(10, 2.0)).value == 0


def test_a_constant_series_is_handled() -> None:
    constant = np.full(50, 3.0)
    assert choose_season_length(constant).value is None
    assert choose_window_size(constant, None).value == WINDOW_BOUNDS[0]


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=400),
    season=st.none() | st.integers(2, 300),
)
def test_choices_stay_in_bounds_for_any_series(values: list[float], season: int | None) -> None:
    series = np.array(values)
    chosen = choose_season_length(series).value
    assert chosen is None or 2 <= chosen <= len(series) // 3
    window = choose_window_size(series, season).value
    assert window is not None
    assert 1 <= window <= max(1, len(series) // 4)
    assert window <= WINDOW_BOUNDS[1]
