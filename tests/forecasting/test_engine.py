"""The pipelined forecast must equal the tutorial's loop: a fresh zero state per window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.forecasting import Forecaster, ModelConfig
from app.forecasting.engine import InferenceWeights, forecast_pipelined
from app.forecasting.model import RecurrentRegressor


def tutorial_loop(model: RecurrentRegressor, history: np.ndarray, horizon: int) -> np.ndarray:
    """The tutorial's forecast: predict, append, slide the window, reset the state, repeat."""
    window_size = model.config.window_size
    preds = [float(v) for v in history[-window_size:]]
    for _ in range(horizon):
        seq = torch.tensor(preds[-window_size:], dtype=torch.float32)
        with torch.no_grad():
            # nn.LSTM without a state argument starts from zeros, like `model.hidden = zeros`.
            preds.append(float(model(seq.view(1, -1))[0]))
    return np.array(preds[window_size:])


def random_model(config: ModelConfig, seed: int) -> RecurrentRegressor:
    torch.manual_seed(seed)
    return RecurrentRegressor(config).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(("window_size", "num_layers"), [(1, 1), (5, 2), (12, 1)])
@pytest.mark.parametrize("horizon", [1, 3, 12, 30])
def test_pipelined_forecast_equals_tutorial_loop(
    cell: str, window_size: int, num_layers: int, horizon: int
) -> None:
    config = ModelConfig(window_size=window_size, hidden_size=7, num_layers=num_layers, cell=cell)  # type: ignore[arg-type]
    model = random_model(config, seed=window_size + horizon)
    weights = InferenceWeights.from_state_dict(config, model.state_dict())
    histories = np.random.default_rng(horizon).normal(size=(3, window_size + 4))
    fast = forecast_pipelined(weights, histories[:, -window_size:], horizon)
    for row, history in enumerate(histories):
        np.testing.assert_allclose(fast[row], tutorial_loop(model, history, horizon), atol=1e-5)


def test_large_batched_forecast_uses_sliced_rows_and_still_matches() -> None:
    # 20 series x 40 slots exceed the full-rows threshold, exercising the sliced-row path.
    config = ModelConfig(window_size=40, hidden_size=9)
    model = random_model(config, seed=3)
    weights = InferenceWeights.from_state_dict(config, model.state_dict())
    histories = np.random.default_rng(0).normal(size=(20, 40))
    fast = forecast_pipelined(weights, histories, 57)
    for row in (0, 7, 19):
        np.testing.assert_allclose(fast[row], tutorial_loop(model, histories[row], 57), atol=1e-5)


@pytest.mark.parametrize("horizon", [1, 40, 200, 1000])
def test_trained_sine_forecast_matches_tutorial_loop(
    sine_forecaster: Forecaster, horizon: int
) -> None:
    model = RecurrentRegressor(sine_forecaster.config)
    model.load_state_dict(sine_forecaster.state)
    model.eval()
    scaled = sine_forecaster.scaler.transform(sine_forecaster.series)
    reference = sine_forecaster.scaler.inverse_transform(tutorial_loop(model, scaled, horizon))
    np.testing.assert_allclose(sine_forecaster.forecast(horizon), reference, atol=1e-5)


def test_forecast_is_repeated_predict_next(tiny_forecaster: Forecaster) -> None:
    series = list(tiny_forecaster.series)
    forecast = tiny_forecaster.forecast(15, series)
    for value in forecast:
        assert tiny_forecaster.predict_next(
            series[-tiny_forecaster.window_size :]
        ) == pytest.approx(value, abs=1e-6)
        series.append(float(value))


def test_forecast_many_equals_single_forecasts(tiny_forecaster: Forecaster) -> None:
    rng = np.random.default_rng(5)
    histories = [rng.normal(size=n) for n in (8, 20, 33)]
    many = tiny_forecaster.forecast_many(histories, 11)
    for row, history in enumerate(histories):
        np.testing.assert_allclose(many[row], tiny_forecaster.forecast(11, history), atol=1e-6)
