from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.forecasting import Forecaster, ModelConfig, TrainingConfig, fit
from app.forecasting.checkpoint import MAGIC, checkpoint_bytes, parse_checkpoint
from app.forecasting.errors import InvalidSeriesError
from app.forecasting.intervals import (
    MIN_ERRORS_PER_STEP,
    ConformalResiduals,
    calibrate_residuals,
    isotonic_increasing,
    plan_calibration,
)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The rule, one step at a time (the reference for the vectorised half_widths): the
    ceil((n + 1) * level / 100)-th smallest finite score, the largest if there are too few."""
    values = np.sort(scores[np.isfinite(scores)])
    rank = math.ceil((len(values) + 1) * level / 100)
    return float(values[min(rank, len(values)) - 1])


def test_the_half_width_is_the_ceil_n_plus_one_rank_of_the_errors() -> None:
    errors = -np.arange(1.0, 11.0)[::-1].copy()[:, None]  # 10 errors at one step, unsorted
    residuals = ConformalResiduals(errors, first_origin=0)

    def width(level: float) -> float:
        return float(residuals.half_widths(level, 1)[0])

    assert width(80) == 9.0  # ceil(11 * 0.8) = 9th smallest |error|
    assert width(50) == 6.0  # ceil(5.5) = 6
    assert width(90) == 10.0  # ceil(9.9) = 10
    assert width(95) == 10.0  # rank 11 > n: the largest
    unobserved = ConformalResiduals(np.array([[0.0, 2.0], [0.0, np.nan], [0.0, 1.0]]), 0)
    assert unobserved.half_widths(50, 2)[1] == 2.0  # NaN is not an error: n = 2


def test_tables_need_an_error_at_every_step() -> None:
    with pytest.raises(ValueError, match="observed first step"):
        ConformalResiduals(np.array([[np.nan, 1.0]]), first_origin=0)
    with pytest.raises(ValueError, match="every step"):
        ConformalResiduals(np.array([[1.0, np.nan], [2.0, np.nan]]), first_origin=0)


def test_levels_outside_0_to_100_are_refused() -> None:
    residuals = ConformalResiduals(np.array([[1.0]]), first_origin=0)
    for level in (0, 100, -5):
        with pytest.raises(InvalidSeriesError, match="between 0 and 100"):
            residuals.half_widths(level, 1)


def test_half_widths_on_a_hand_made_table() -> None:
    # Step 1 errors are 1..10; step 2 errors are 2 * (1..10) with the last origin unobserved;
    # step 3 errors are smaller than step 2's, so the isotonic fit pools steps 2 and 3.
    step1 = np.arange(1.0, 11.0)
    step2 = np.append(2 * np.arange(1.0, 10.0), np.nan)
    step3 = -0.5 * step1  # signed errors: the absolute value counts
    residuals = ConformalResiduals(np.column_stack([step1, step2, step3]), first_origin=50)
    assert residuals.counts().tolist() == [10, 9, 10]
    widths = residuals.half_widths(80, 3)
    # step 2: n = 9, rank ceil(10 * 0.8) = 8, 8th smallest of 2, 4, ..., 18 = 16
    # step 3: n = 10, rank 9, 9th smallest of 0.5, 1.0, ..., 5.0 = 4.5
    # pooled by weight (9 and 10 errors): (16 * 9 + 4.5 * 10) / 19 = 9.947...
    pooled = (16 * 9 + 4.5 * 10) / 19
    assert widths.tolist() == pytest.approx([9.0, pooled, pooled])
    lower_upper = residuals.intervals(np.array([100.0, 100.0, 100.0]), [80])[0]
    assert lower_upper.lower.tolist() == pytest.approx([91.0, 100 - pooled, 100 - pooled])
    assert lower_upper.upper.tolist() == pytest.approx([109.0, 100 + pooled, 100 + pooled])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0, 1e6), min_size=1, max_size=40),
    data=st.data(),
)
def test_isotonic_fit_is_the_closest_non_decreasing_sequence(
    values: list[float], data: st.DataObject
) -> None:
    weights = np.array(
        data.draw(st.lists(st.integers(1, 50), min_size=len(values), max_size=len(values))),
        dtype=np.float64,
    )
    fitted = isotonic_increasing(np.array(values), weights)
    assert np.all(np.diff(fitted) >= -1e-9 * max(1.0, float(np.max(fitted))))
    assert np.sum(weights * fitted) == pytest.approx(np.sum(weights * np.array(values)))
    if np.all(np.diff(values) >= 0):
        np.testing.assert_allclose(fitted, values)
    # Order preserving: raising every input never lowers the fit (keeps levels nested).
    raised = isotonic_increasing(np.array(values) + 1.0, weights)
    assert np.all(raised >= fitted - 1e-9 * max(1.0, float(np.max(fitted))))


@settings(max_examples=40, deadline=None)
@given(
    table=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=25),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
    ),
    level=st.floats(1, 99),
    data=st.data(),
)
def test_half_widths_are_the_per_step_conformal_quantiles_made_monotone(
    table: np.ndarray, level: float, data: st.DataObject
) -> None:
    # Unobserved tails like a real table's (whose first origin is always complete).
    table = table.copy()
    for row in range(1, table.shape[0]):
        gap = data.draw(st.integers(0, table.shape[1] - 1))
        table[row, table.shape[1] - gap :] = np.nan
    residuals = ConformalResiduals(table, first_origin=0)
    per_step = np.array(
        [conformal_quantile(np.abs(table[:, h]), level) for h in range(table.shape[1])]
    )
    expected = isotonic_increasing(per_step, residuals.counts())
    np.testing.assert_allclose(residuals.half_widths(level, table.shape[1]), expected)


def test_steps_beyond_the_calibration_horizon_grow_with_sqrt() -> None:
    residuals = ConformalResiduals(np.ones((30, 4)), first_origin=10)
    widths = residuals.half_widths(80, 16)
    assert widths[:4].tolist() == [1.0] * 4
    assert widths[15] == pytest.approx(math.sqrt(16 / 4))
    assert residuals.extrapolated_steps(16) == 12
    assert residuals.extrapolated_steps(3) == 0


@settings(max_examples=40, deadline=None)
@given(
    table=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=30),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    ),
    horizon=st.integers(1, 60),
)
def test_intervals_nest_and_widen_with_the_step(table: np.ndarray, horizon: int) -> None:
    residuals = ConformalResiduals(table, first_origin=0)
    forecast = np.linspace(-3, 3, horizon)
    narrow, mid, wide = residuals.intervals(forecast, [50, 80, 95])
    for inner, outer in ((narrow, mid), (mid, wide)):
        assert np.all(outer.lower <= inner.lower)
        assert np.all(inner.upper <= outer.upper)
    widths = wide.upper - wide.lower
    assert np.all(np.diff(widths) >= -1e-9 * np.maximum(1.0, widths[1:]))
    assert np.all(wide.lower <= forecast)
    assert np.all(forecast <= wide.upper)


def test_coverage_is_nominal_for_exchangeable_errors() -> None:
    """Errors drawn i.i.d. at calibration and test time: over many calibration sets the interval
    covers exactly ceil((n + 1) * level) / (n + 1) of fresh errors - the conformal guarantee."""
    rng = np.random.default_rng(7)
    trials, n = 4000, 39
    calibration = rng.standard_t(df=4, size=(trials, n))
    fresh = np.abs(rng.standard_t(df=4, size=trials))
    for level in (80, 95):
        widths = np.array([conformal_quantile(np.abs(row), level) for row in calibration])
        covered = float(np.mean(fresh <= widths))
        expected = math.ceil((n + 1) * level / 100) / (n + 1)  # 0.80 and 0.95 for n = 39
        assert covered == pytest.approx(expected, abs=0.025)


def test_plan_uses_only_unseen_positions_and_bounds_the_horizon() -> None:
    # A long unseen part: the most recent origins whose 40 steps are all observed.
    plan = plan_calibration(length=800, window_size=40, first_unseen=500, horizon_cap=40)
    assert plan is not None
    assert plan.horizon == 40
    assert max(plan.origins) == 800 - 40
    assert min(plan.origins) >= 500
    # The default model's case: 112 unseen values, fewer complete rows than the cost budget
    # allows, so origins run from the first unseen value and late steps have fewer errors.
    plan = plan_calibration(length=800, window_size=40, first_unseen=688, horizon_cap=40)
    assert plan is not None
    assert plan.origins[0] == 688
    assert plan.origins == tuple(range(688, 688 + len(plan.origins)))
    errors_at_last_step = sum(1 for o in plan.origins if o + plan.horizon <= 800)
    assert errors_at_last_step >= MIN_ERRORS_PER_STEP
    # Few unseen values: the horizon shrinks so the last step keeps MIN_ERRORS_PER_STEP errors.
    short = plan_calibration(length=100, window_size=10, first_unseen=70, horizon_cap=40)
    assert short is not None
    assert short.horizon == 30 - MIN_ERRORS_PER_STEP + 1
    assert plan_calibration(length=100, window_size=10, first_unseen=100, horizon_cap=5) is None


def test_calibration_errors_are_actual_minus_forecast_from_each_origin() -> None:
    series = np.arange(60, dtype=np.float64) ** 1.5

    def last_value(windows: np.ndarray, horizon: int) -> np.ndarray:
        return np.repeat(windows[:, -1:], horizon, axis=1)  # (B, H) naive forecasts

    residuals = calibrate_residuals(
        series, 5, first_unseen=50, horizon_cap=4, forecast_windows=last_value
    )
    assert residuals is not None
    assert residuals.first_origin == 50
    origins = range(50, 50 + residuals.n_origins)
    for row, origin in zip(residuals.errors, origins, strict=True):
        for step, error in enumerate(row):
            if origin + step < len(series):
                assert error == pytest.approx(series[origin + step] - series[origin - 1])
            else:
                assert np.isnan(error)


def test_fit_calibrates_on_values_the_selected_model_never_trained_on(
    tiny_forecaster: Forecaster,
) -> None:
    residuals = tiny_forecaster.intervals
    assert residuals is not None
    first_unseen = tiny_forecaster.window_size + tiny_forecaster.training.train_windows
    assert residuals.first_origin >= first_unseen
    assert residuals.calibration_horizon >= 1
    assert np.all(np.isfinite(residuals.errors[:, 0]))


def test_fit_without_calibration_has_no_intervals() -> None:
    series = np.sin(np.arange(60) * 0.5)
    config, training = ModelConfig(window_size=6, hidden_size=4), TrainingConfig(max_epochs=1)
    assert fit(series, config, training, test_size=5, calibrate=False).intervals is None


def test_residuals_survive_a_checkpoint_round_trip(tiny_forecaster: Forecaster) -> None:
    loaded, _ = parse_checkpoint(checkpoint_bytes(tiny_forecaster))
    assert loaded.intervals is not None
    assert tiny_forecaster.intervals is not None
    np.testing.assert_array_equal(loaded.intervals.errors, tiny_forecaster.intervals.errors)
    assert loaded.intervals.first_origin == tiny_forecaster.intervals.first_origin


def test_checkpoints_written_before_intervals_still_load(tiny_forecaster: Forecaster) -> None:
    """A format-1 file from before this feature has no "intervals" key in its header."""
    import hashlib
    import struct

    data = checkpoint_bytes(tiny_forecaster)
    (length,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    header = json.loads(data[start : start + length])
    del header["intervals"]
    old_header = json.dumps(header).encode()
    body = MAGIC + struct.pack("<Q", len(old_header)) + old_header + data[start + length : -32]
    loaded, _ = parse_checkpoint(body + hashlib.sha256(body).digest())
    assert loaded.intervals is None
    np.testing.assert_array_equal(loaded.forecast(5), tiny_forecaster.forecast(5))
