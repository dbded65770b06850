"""The compiled pipelined forecast must equal the tutorial's loop, window by window."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from app.forecasting import Forecaster, ModelConfig, Scaler
from app.forecasting.engine import InferenceWeights, forecast_pipelined
from app.forecasting.forecaster import model_inputs, model_outputs
from app.forecasting.model import RecurrentRegressor
from app.forecasting.pipeline import _exp, forecast_scaled, forecast_windows

CELLS = st.sampled_from(["lstm", "gru", "rnn"])


def module_and_weights(
    config: ModelConfig, seed: int
) -> tuple[RecurrentRegressor, InferenceWeights]:
    torch.manual_seed(seed)
    model = RecurrentRegressor(config).eval()
    return model, InferenceWeights.from_state_dict(config, model.state_dict())


def tutorial_loop(
    model: RecurrentRegressor, scaler: Scaler, history: np.ndarray, horizon: int
) -> np.ndarray:
    """The tutorial's forecast in series units: each step takes the last window_size values of
    (history + forecast so far), scales (and differences) them, runs the module from a zero
    state, and appends the unscaled prediction."""
    config = model.config
    extended = [float(v) for v in history[-config.window_size :]]
    for _ in range(horizon):
        window = np.array(extended[-config.window_size :])[None, :]  # (1, w)
        inputs = torch.tensor(model_inputs(config, scaler, window), dtype=torch.float32)
        with torch.no_grad():  # nn.LSTM without a state argument starts from zeros
            prediction = model(inputs).double().numpy()[:, None]  # (1, 1)
        extended.append(float(model_outputs(config, scaler, window, prediction)[0, 0]))
    return np.array(extended[config.window_size :])


@settings(max_examples=60, deadline=None)
@given(
    cell=CELLS,
    num_layers=st.integers(1, 3),
    hidden_size=st.integers(1, 20),
    window_size=st.integers(2, 12),
    horizon=st.integers(1, 60),
    count=st.integers(1, 5),
    difference=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pipeline_equals_tutorial_loop(
    cell: str,
    num_layers: int,
    hidden_size: int,
    window_size: int,
    horizon: int,
    count: int,
    difference: bool,
    seed: int,
) -> None:
    config = ModelConfig(
        window_size=window_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        cell=cell,  # type: ignore[arg-type]
        difference=difference,
    )
    model, weights = module_and_weights(config, seed)
    rng = np.random.default_rng(seed)
    scaler = Scaler(center=float(rng.uniform(-2, 2)), scale=float(rng.uniform(0.5, 2)))
    histories = rng.normal(size=(count, window_size + 3))
    fast = forecast_windows(
        weights.kernel,
        histories[:, -window_size:],
        horizon,
        scaler.center,
        scaler.scale,
        difference=difference,
    )
    assert fast.shape == (count, horizon)
    for row, history in enumerate(histories):
        expected = tutorial_loop(model, scaler, history, horizon)
        np.testing.assert_allclose(fast[row], expected, atol=1e-5 * scaler.scale, rtol=0)


@settings(max_examples=40, deadline=None)
@given(
    cell=CELLS,
    num_layers=st.integers(1, 3),
    hidden_size=st.integers(1, 40),
    window_size=st.integers(1, 45),
    horizon=st.integers(1, 90),
    count=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_pipeline_equals_numpy_engine(
    cell: str,
    num_layers: int,
    hidden_size: int,
    window_size: int,
    horizon: int,
    count: int,
    seed: int,
) -> None:
    """The numpy engine is the reference: the same schedule in float32, ~10 numpy calls a step.
    Batches of up to 40 series cross the kernel's row blocks and its four-row tiles."""
    config = ModelConfig(
        window_size=window_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        cell=cell,  # type: ignore[arg-type]
    )
    _, weights = module_and_weights(config, seed)
    inputs = np.random.default_rng(seed).normal(scale=2.0, size=(count, window_size))
    np.testing.assert_allclose(
        forecast_scaled(weights.kernel, inputs, horizon),
        forecast_pipelined(weights, inputs, horizon),
        atol=2e-6,
        rtol=0,
    )


@settings(max_examples=60, deadline=None)
@given(
    cell=CELLS,
    difference=st.booleans(),
    seed=st.integers(0, 2**16),
    center=st.floats(-1e6, 1e6),
    scale=st.floats(1e-3, 1e6),
    magnitude=st.sampled_from([1.0, 1e3, 1e12, 1e300]),
)
def test_scaling_and_differencing_equal_the_composed_numpy_path(
    cell: str, difference: bool, seed: int, center: float, scale: float, magnitude: float
) -> None:
    """model_inputs, the network, model_outputs, fused: the same arithmetic and rounding,
    including the clipping of values far outside the scaler's range."""
    config = ModelConfig(window_size=6, hidden_size=5, cell=cell, difference=difference)  # type: ignore[arg-type]
    _, weights = module_and_weights(config, seed)
    scaler = Scaler(center=center, scale=scale)
    windows = np.random.default_rng(seed).normal(scale=magnitude, size=(3, 6))
    network = forecast_scaled(weights.kernel, model_inputs(config, scaler, windows), 9)
    expected = model_outputs(config, scaler, windows, network)
    fused = forecast_windows(weights.kernel, windows, 9, center, scale, difference=difference)
    np.testing.assert_allclose(fused, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_a_series_in_a_batch_gets_exactly_its_forecast_alone(cell: str, num_layers: int) -> None:
    """Bit for bit: a batch may gather any series (37 rows: full and partial four-row tiles,
    two row blocks), and each must get what it would get alone."""
    config = ModelConfig(window_size=10, hidden_size=13, num_layers=num_layers, cell=cell)  # type: ignore[arg-type]
    _, weights = module_and_weights(config, 1)
    windows = np.random.default_rng(0).normal(size=(37, 10))
    for horizon in (1, 7, 25):
        many = forecast_windows(weights.kernel, windows, horizon, 0.3, 1.7, difference=False)
        for row in range(len(windows)):
            alone = forecast_windows(
                weights.kernel, windows[row : row + 1], horizon, 0.3, 1.7, difference=False
            )
            assert np.array_equal(alone[0], many[row]), (horizon, row)


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-40, max_value=40))
def test_exp_is_float64_accurate(value: float) -> None:
    assert _exp(value) == pytest.approx(math.exp(value), rel=1e-9)


def test_exp_saturates_where_sigmoid_and_tanh_are_exact_and_keeps_nan() -> None:
    assert _exp(1e300) == _exp(40.0)
    assert _exp(-1e300) == _exp(-40.0)
    assert 1.0 / (1.0 + _exp(-40.0)) == 1.0  # sigmoid(40): exact to float64 precision
    assert math.isnan(_exp(float("nan")))


def test_nan_input_gives_nan_not_a_made_up_number() -> None:
    _, weights = module_and_weights(ModelConfig(window_size=4, hidden_size=3), 0)
    inputs = np.array([[0.1, float("nan"), 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]])
    out = forecast_scaled(weights.kernel, inputs, 5)
    assert np.isnan(out[0]).all()
    assert np.isfinite(out[1]).all()


def test_forecast_many_is_the_kernel_and_equals_single_forecasts(
    tiny_forecaster: Forecaster,
) -> None:
    rng = np.random.default_rng(5)
    histories = [rng.normal(size=n) for n in (8, 20, 33)]
    many = tiny_forecaster.forecast_many(histories, 11)
    for row, history in enumerate(histories):
        assert np.array_equal(many[row], tiny_forecaster.forecast(11, history))
        window = np.asarray(history)[-tiny_forecaster.window_size :][None, :]
        scaler = tiny_forecaster.scaler
        kernel = forecast_windows(
            tiny_forecaster.weights.kernel,
            window,
            11,
            scaler.center,
            scaler.scale,
            difference=tiny_forecaster.config.difference,
        )
        assert np.array_equal(many[row], kernel[0])
