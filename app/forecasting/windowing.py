"""Overlapping windows, exactly as the tutorial's `input_data(seq, ws)` builds them."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.forecasting.errors import InvalidSeriesError

FloatArray = NDArray[np.float64]


def as_series(values: object, *, name: str = "series") -> FloatArray:
    """A 1-D float64 copy of `values`, refusing non-finite numbers."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InvalidSeriesError(f"{name} must be a flat list of numbers, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise InvalidSeriesError(f"{name} must hold finite numbers; position {bad} is {array[bad]}")
    return array


def make_windows(series: FloatArray, window_size: int) -> tuple[FloatArray, FloatArray]:
    """Windows `series[i:i+w]` with label `series[i+w]`, for i in 0..L-w-1 (L - w pairs).

    Returns (windows, labels) with shapes (L - w, w) and (L - w,).
    """
    if window_size < 1:
        raise InvalidSeriesError(f"window_size must be >= 1, got {window_size}")
    if len(series) <= window_size:
        raise InvalidSeriesError(
            f"a window of {window_size} needs at least {window_size + 1} values to make one "
            f"(window, label) pair; got {len(series)}"
        )
    # sliding_window_view gives (L - w + 1, w); the last window has no label.
    windows = np.lib.stride_tricks.sliding_window_view(series, window_size)[:-1]  # (N, w)
    labels = series[window_size:]  # (N,)
    return np.ascontiguousarray(windows), labels.copy()
