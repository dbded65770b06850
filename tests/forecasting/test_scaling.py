from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.forecasting import Scaler
from app.forecasting.finite import clip_to_finite

_MAX = float(np.finfo(np.float64).max)

finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=1, max_size=50))
def test_scaler_round_trips_and_maps_fitted_range_into_unit_interval(values: list[float]) -> None:
    series = np.array(values)
    scaler = Scaler.fit(series)
    assert np.isfinite(scaler.center)
    assert scaler.scale > 0
    scaled = scaler.transform(series)
    assert np.all(np.isfinite(scaled))
    assert np.all(np.abs(scaled) <= 1.0 + 1e-9)
    restored = scaler.inverse_transform(scaled)
    tolerance = 1e-9 * np.maximum(np.abs(series), scaler.scale) + 1e-300
    assert np.all(np.abs(restored - series) <= tolerance)


@given(finite, st.integers(1, 30))
def test_constant_series_does_not_divide_by_zero(value: float, length: int) -> None:
    scaler = Scaler.fit(np.full(length, value))
    scaled = scaler.transform(np.full(length, value))
    np.testing.assert_array_equal(scaled, np.zeros(length))
    np.testing.assert_allclose(scaler.inverse_transform(scaled), np.full(length, value))


def test_extreme_values_do_not_overflow() -> None:
    series = np.array([1e308, -1e308, 5e307])
    scaler = Scaler.fit(series)
    assert np.isfinite(scaler.scale)
    np.testing.assert_allclose(scaler.transform(series), [1.0, -1.0, 0.5])
    # A prediction outside the fitted range is clipped to the largest float, never inf.
    assert np.all(np.isfinite(scaler.inverse_transform(np.array([3.0, -3.0]))))


def test_scaler_is_fitted_on_the_data_given_only() -> None:
    scaler = Scaler.fit(np.array([0.0, 10.0]))
    assert scaler.center == 5.0
    assert scaler.scale == 5.0
    np.testing.assert_allclose(scaler.transform(np.array([20.0])), [3.0])


@given(
    st.lists(
        st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([np.nan, np.inf, -np.inf]),
        max_size=30,
    )
)
def test_clip_to_finite_is_nan_to_num_then_clip(values: list[float]) -> None:
    expected = np.clip(np.nan_to_num(np.array(values), nan=0.0), -_MAX, _MAX)
    np.testing.assert_array_equal(clip_to_finite(np.array(values, dtype=np.float64)), expected)
