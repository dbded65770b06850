"""The compiled kernel must compute what the PyTorch module and the numpy path compute."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from app.forecasting import ModelConfig, Scaler
from app.forecasting.engine import InferenceWeights, forecast_pipelined
from app.forecasting.forecaster import model_inputs, model_outputs
from app.forecasting.kernel import _tanh, predict_few, predict_one, warm_up
from app.forecasting.model import RecurrentRegressor

CELLS = st.sampled_from(["lstm", "gru", "rnn"])


def module_and_weights(
    config: ModelConfig, seed: int
) -> tuple[RecurrentRegressor, InferenceWeights]:
    torch.manual_seed(seed)
    model = RecurrentRegressor(config).eval()
    return model, InferenceWeights.from_state_dict(config, model.state_dict())


def forward(model: RecurrentRegressor, windows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor(windows, dtype=torch.float32)).numpy()


def test_warm_up_compiles_every_cell() -> None:
    assert warm_up() >= 0.0


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-50, max_value=50, width=32))
def test_tanh_approximation_is_float32_accurate(value: float) -> None:
    assert float(_tanh(np.float32(value))) == pytest.approx(math.tanh(value), abs=5e-7)


def test_tanh_saturates_and_keeps_nan() -> None:
    assert float(_tanh(np.float32(1e30))) == pytest.approx(1.0, abs=3e-7)
    assert float(_tanh(np.float32(-1e30))) == pytest.approx(-1.0, abs=3e-7)
    assert math.isnan(float(_tanh(np.float32("nan"))))


@settings(max_examples=40, deadline=None)
@given(
    cell=CELLS,
    window_size=st.integers(1, 12),
    hidden_size=st.integers(1, 24),
    num_layers=st.integers(1, 3),
    count=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_kernel_equals_module_forward(
    cell: str, window_size: int, hidden_size: int, num_layers: int, count: int, seed: int
) -> None:
    config = ModelConfig(
        window_size=window_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        cell=cell,  # type: ignore[arg-type]
    )
    model, weights = module_and_weights(config, seed)
    windows = np.random.default_rng(seed).normal(scale=2.0, size=(count, window_size))
    np.testing.assert_allclose(
        predict_few(weights.kernel, windows), forward(model, windows), atol=2e-6
    )


def test_default_model_kernel_matches_module_and_numpy_engine() -> None:
    config = ModelConfig()  # the tutorial's LSTM(1, 50), window 40
    model, weights = module_and_weights(config, 7)
    windows = np.sin(np.arange(3 * 40).reshape(3, 40) * 2 * np.pi / 40)
    compiled = predict_few(weights.kernel, windows)
    np.testing.assert_allclose(compiled, forward(model, windows), atol=2e-6)
    numpy_engine = forecast_pipelined(weights, windows, 1)[:, 0]  # one step = one window
    np.testing.assert_allclose(compiled, numpy_engine, atol=2e-6)


@settings(max_examples=60, deadline=None)
@given(
    cell=CELLS,
    difference=st.booleans(),
    seed=st.integers(0, 2**16),
    center=st.floats(-1e6, 1e6),
    scale=st.floats(1e-3, 1e6),
    magnitude=st.sampled_from([1.0, 1e3, 1e12, 1e300]),
)
def test_predict_one_equals_the_composed_numpy_path(
    cell: str, difference: bool, seed: int, center: float, scale: float, magnitude: float
) -> None:
    """Scaling, differencing, the network and the inverse, fused: the same arithmetic, including
    the clipping of values far outside the scaler's range."""
    config = ModelConfig(window_size=6, hidden_size=5, cell=cell, difference=difference)  # type: ignore[arg-type]
    _, weights = module_and_weights(config, seed)
    scaler = Scaler(center=center, scale=scale)
    window = np.random.default_rng(seed).normal(scale=magnitude, size=6)
    inputs = model_inputs(config, scaler, window[None, :])
    outputs = predict_few(weights.kernel, inputs)[:, None]
    expected = float(model_outputs(config, scaler, window[None, :], outputs)[0, 0])
    fused = predict_one(weights.kernel, window, center, scale, difference=difference)
    assert fused == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_nan_input_gives_nan_not_a_made_up_number() -> None:
    _, weights = module_and_weights(ModelConfig(window_size=4, hidden_size=3), 0)
    windows = np.array([[0.1, float("nan"), 0.2, 0.3]])
    assert math.isnan(predict_few(weights.kernel, windows)[0])


def test_compiles_in_memory_where_no_cache_directory_is_writable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read-only image without a writable NUMBA_CACHE_DIR: numba refuses `cache=True` when it
    decorates; the kernel must still compile (in memory) instead of failing the import."""
    import app.forecasting.jit as jit

    real_njit = jit.njit
    asked: list[bool] = []

    def njit_without_locator(**options: object) -> object:
        asked.append(bool(options["cache"]))
        if options["cache"]:
            raise RuntimeError("cannot cache function 'double': no locator available for file")
        return real_njit(**options)

    monkeypatch.setattr(jit, "njit", njit_without_locator)

    def double(value: float) -> float:
        return value * 2.0

    assert jit.compiled(double)(1.5) == 3.0
    assert asked == [True, False]
