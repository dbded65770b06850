from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.forecasting import InvalidSeriesError, make_windows
from app.forecasting.windowing import as_series


def test_tutorial_example_15_values_window_5() -> None:
    series = np.arange(1.0, 16.0)  # x1..x15
    windows, labels = make_windows(series, 5)
    assert windows.shape == (10, 5)
    assert labels.shape == (10,)
    np.testing.assert_array_equal(windows[0], [1, 2, 3, 4, 5])
    assert labels[0] == 6
    np.testing.assert_array_equal(windows[-1], [10, 11, 12, 13, 14])
    assert labels[-1] == 15


def test_tutorial_sine_gives_720_windows_of_training_part(sine: np.ndarray) -> None:
    windows, labels = make_windows(sine[:-40], 40)
    assert windows.shape == (720, 40)
    assert labels[0] == sine[40]


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=60),
    st.integers(1, 59),
)
def test_windows_are_the_tutorials_pairs(values: list[float], window_size: int) -> None:
    series = np.array(values)
    if len(series) <= window_size:
        with pytest.raises(InvalidSeriesError, match=f"at least {window_size + 1} values"):
            make_windows(series, window_size)
        return
    windows, labels = make_windows(series, window_size)
    assert len(windows) == len(series) - window_size
    for i in range(len(windows)):
        np.testing.assert_array_equal(windows[i], series[i : i + window_size])
        assert labels[i] == series[i + window_size]


def test_windows_do_not_alias_the_series() -> None:
    series = np.arange(10.0)
    windows, _ = make_windows(series, 3)
    windows[0, 0] = 99.0
    assert series[0] == 0.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_refused_with_their_position(bad: float) -> None:
    with pytest.raises(InvalidSeriesError, match="position 2"):
        as_series([1.0, 2.0, bad])
