"""Compiled inference for one window: every cell step of the window in one numba loop.

`/predict-next` runs one window of `w` sequential cell steps. In numpy each step is ~10 calls on
(1, H) arrays whose per-call overhead (~1 µs) is nearly all of their cost: ~0.6 ms for the
default model, most of the request. Here the whole window is one compiled loop (~0.05-0.07 ms,
bench/predict_path.py). Pipelined forecasts (many windows a call) are pipeline.py's kernel.

Semantics are PyTorch's: zero initial state per window, gate order (i, f, g, o) for LSTM and
(r, z, n) for GRU, tanh RNN, then the linear head on the top layer's last hidden state. The
arithmetic is float32 like the trained model. tanh is a rational approximation (the one Eigen
and XLA use for float32, |error| < 3e-7, tested) because it vectorizes where libm's does not;
the sigmoid is 0.5 + 0.5 * tanh(z / 2).

Compiling takes seconds (~3-4 s here), so it is cached on disk where numba finds a writable
place (`__pycache__` beside this file, or NUMBA_CACHE_DIR: the image sets one it fills at build
time) and otherwise done in memory once per process; `warm_up()` at startup does it before the
service reports ready, never a request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from app.forecasting.jit import compiled, compiled_exact

CELL_CODES: Final = {"lstm": 0, "gru": 1, "rnn": 2}
GATES: Final = {"lstm": 4, "gru": 3, "rnn": 1}
_TANH_LIMIT: Final = np.float32(7.90531110763549805)  # tanh is exactly +-1 in float32 beyond
_FLOAT_MAX: Final = float(np.finfo(np.float64).max)


@dataclass(frozen=True, slots=True)
class KernelWeights:
    """One model's weights packed for the kernel: every layer padded to the same shapes."""

    cell_code: int
    w_in: NDArray[np.float32]  # (L, max(1, H), G*H): input -> gates, transposed; layer 0 uses row 0
    w_hh: NDArray[np.float32]  # (L, H, G*H): hidden -> gates, transposed
    b_in: NDArray[np.float32]  # (L, G*H)
    b_hh: NDArray[np.float32]  # (L, G*H)
    head_weight: NDArray[np.float32]  # (H,)
    head_bias: float

    def arguments(self) -> tuple[Any, ...]:
        """The weights in the order the compiled functions take them."""
        return (
            self.cell_code,
            self.w_in,
            self.w_hh,
            self.b_in,
            self.b_hh,
            self.head_weight,
            self.head_bias,
        )


def pack_weights(
    cell: str,
    layers: Sequence[tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]],
    head_weight: NDArray[np.float32],
    head_bias: float,
) -> KernelWeights:
    """`layers` holds PyTorch's (weight_ih (G*H, in), weight_hh (G*H, H), bias_ih, bias_hh)."""
    count = len(layers)
    gate_rows, hidden = layers[0][1].shape
    w_in = np.zeros((count, max(1, hidden), gate_rows), dtype=np.float32)
    w_hh = np.zeros((count, hidden, gate_rows), dtype=np.float32)
    b_in = np.zeros((count, gate_rows), dtype=np.float32)
    b_hh = np.zeros((count, gate_rows), dtype=np.float32)
    for index, (weight_ih, weight_hh, bias_ih, bias_hh) in enumerate(layers):
        w_in[index, : weight_ih.shape[1]] = weight_ih.T  # (in, G*H)
        w_hh[index] = weight_hh.T  # (H, G*H)
        b_in[index] = bias_ih
        b_hh[index] = bias_hh
    packed = KernelWeights(
        cell_code=CELL_CODES[cell],
        w_in=w_in,
        w_hh=w_hh,
        b_in=b_in,
        b_hh=b_hh,
        head_weight=np.ascontiguousarray(head_weight, dtype=np.float32),
        head_bias=float(head_bias),
    )
    for array in (packed.w_in, packed.w_hh, packed.b_in, packed.b_hh, packed.head_weight):
        array.setflags(write=False)
    return packed


def predict_few(weights: KernelWeights, windows: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, w) scaled windows -> (N,) scaled next values, each from a zero state."""
    out: NDArray[np.float64] = _run_windows(
        np.ascontiguousarray(windows, dtype=np.float64), *weights.arguments()
    )
    return out


def predict_one(
    weights: KernelWeights,
    window: NDArray[np.float64],
    center: float,
    scale: float,
    *,
    difference: bool,
) -> float:
    """One window in series units -> the next value in series units, in one compiled call.

    The same arithmetic as Forecaster's composed path (first differences if `difference`,
    Scaler.transform, the network, Scaler.inverse_transform, the differences summed back, NaN
    -> 0 and +-inf -> the largest float at each step), without the ~10 numpy calls around the
    network that cost more than it on one window.
    """
    return float(
        _predict_one(
            np.ascontiguousarray(window, dtype=np.float64),
            center,
            scale,
            difference,
            *weights.arguments(),
        )
    )


def warm_up() -> float:
    """Compile the kernels for every cell (one specialization serves them all), this module's
    and pipeline.py's (the pipelined forecast); seconds taken."""
    from app.forecasting.pipeline import forecast_windows  # it imports this module

    started = time.perf_counter()
    for cell in CELL_CODES:
        gates = GATES[cell]
        layer = (np.zeros((gates, 1)), np.zeros((gates, 1)), np.zeros(gates), np.zeros(gates))
        packed = pack_weights(cell, [layer, layer], np.zeros(1, dtype=np.float32), 0.0)
        predict_few(packed, np.zeros((1, 2)))
        predict_one(packed, np.zeros(2), 0.0, 1.0, difference=cell == "gru")
        forecast_windows(packed, np.zeros((1, 3)), 3, 0.0, 1.0, difference=cell == "gru")
    return time.perf_counter() - started


@compiled
def _tanh(value: np.float32) -> np.float32:
    clamped = min(max(value, -_TANH_LIMIT), _TANH_LIMIT)
    square = clamped * clamped
    p = np.float32(-2.76076847742355e-16)
    p = p * square + np.float32(2.00018790482477e-13)
    p = p * square + np.float32(-8.60467152213735e-11)
    p = p * square + np.float32(5.12229709037114e-08)
    p = p * square + np.float32(1.48572235717979e-05)
    p = p * square + np.float32(6.37261928875436e-04)
    p = p * square + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * square + np.float32(1.18534705686654e-04)
    q = q * square + np.float32(2.26843463243900e-03)
    q = q * square + np.float32(4.89352518554385e-03)
    return p * clamped / q


@compiled
def _accumulate(
    gates: NDArray[np.float32], vector: NDArray[np.float32], width: int, matrix: NDArray[np.float32]
) -> None:
    """gates (G*H,) += vector[:width] @ matrix[:width] (width, G*H).

    Eight rows per pass: each pass loads and stores `gates` once for eight multiply-adds, which
    made the default model's matvec ~1.9x faster than one row per pass (0.81 vs 1.58 µs).
    """
    columns = gates.shape[0]
    j = 0
    while j + 8 <= width:
        x0, x1, x2, x3 = vector[j], vector[j + 1], vector[j + 2], vector[j + 3]
        x4, x5, x6, x7 = vector[j + 4], vector[j + 5], vector[j + 6], vector[j + 7]
        for k in range(columns):
            gates[k] += (
                (x0 * matrix[j, k] + x1 * matrix[j + 1, k])
                + (x2 * matrix[j + 2, k] + x3 * matrix[j + 3, k])
            ) + (
                (x4 * matrix[j + 4, k] + x5 * matrix[j + 5, k])
                + (x6 * matrix[j + 6, k] + x7 * matrix[j + 7, k])
            )
        j += 8
    while j < width:
        x = vector[j]
        for k in range(columns):
            gates[k] += x * matrix[j, k]
        j += 1


@compiled
def _sigmoid(value: np.float32) -> np.float32:
    return np.float32(0.5) + np.float32(0.5) * _tanh(np.float32(0.5) * value)


@compiled
def _run_windows(
    windows: NDArray[np.float64],
    cell_code: int,
    w_in: NDArray[np.float32],
    w_hh: NDArray[np.float32],
    b_in: NDArray[np.float32],
    b_hh: NDArray[np.float32],
    head_weight: NDArray[np.float32],
    head_bias: float,
) -> NDArray[np.float64]:
    count, length = windows.shape
    layers, hidden, gate_rows = w_hh.shape
    out = np.empty(count, dtype=np.float64)
    h = np.zeros((layers, hidden), dtype=np.float32)  # (L, H)
    c = np.zeros((layers, hidden), dtype=np.float32)  # (L, H): LSTM cell state
    below = np.zeros(max(1, hidden), dtype=np.float32)  # (max(1, H),): this layer's input
    from_input = np.empty(gate_rows, dtype=np.float32)  # (G*H,)
    from_hidden = np.empty(gate_rows, dtype=np.float32)  # (G*H,)
    for row in range(count):
        for layer in range(layers):
            for j in range(hidden):
                h[layer, j] = 0.0
                c[layer, j] = 0.0
        for t in range(length):
            below[0] = np.float32(windows[row, t])
            width = 1  # the first layer reads one value; the others the hidden state below
            for layer in range(layers):
                for k in range(gate_rows):
                    from_input[k] = b_in[layer, k]
                    from_hidden[k] = b_hh[layer, k]
                _accumulate(from_input, below, width, w_in[layer])
                _accumulate(from_hidden, h[layer], hidden, w_hh[layer])
                if cell_code == 0:  # LSTM, PyTorch order (i, f, g, o)
                    for j in range(hidden):
                        i = _sigmoid(from_input[j] + from_hidden[j])
                        f = _sigmoid(from_input[hidden + j] + from_hidden[hidden + j])
                        g = _tanh(from_input[2 * hidden + j] + from_hidden[2 * hidden + j])
                        o = _sigmoid(from_input[3 * hidden + j] + from_hidden[3 * hidden + j])
                        c[layer, j] = f * c[layer, j] + i * g
                        h[layer, j] = o * _tanh(c[layer, j])
                elif cell_code == 1:  # GRU, PyTorch order (r, z, n); n = tanh(x_n + r * h_n)
                    for j in range(hidden):
                        r = _sigmoid(from_input[j] + from_hidden[j])
                        z = _sigmoid(from_input[hidden + j] + from_hidden[hidden + j])
                        n = _tanh(from_input[2 * hidden + j] + r * from_hidden[2 * hidden + j])
                        h[layer, j] = (np.float32(1.0) - z) * n + z * h[layer, j]
                else:  # tanh RNN
                    for j in range(hidden):
                        h[layer, j] = _tanh(from_input[j] + from_hidden[j])
                for j in range(hidden):
                    below[j] = h[layer, j]
                width = hidden
        total = np.float32(0.0)
        for j in range(hidden):
            total += head_weight[j] * h[layers - 1, j]
        out[row] = np.float64(total) + head_bias
    return out


@compiled_exact
def _finite(value: float) -> float:
    """NaN -> 0, +-inf -> +-the largest float: Scaler's clip_to_finite for one value."""
    if value != value:  # NaN
        return 0.0
    return min(max(value, -_FLOAT_MAX), _FLOAT_MAX)


@compiled_exact
def _predict_one(
    window: NDArray[np.float64],
    center: float,
    scale: float,
    difference: bool,
    cell_code: int,
    w_in: NDArray[np.float32],
    w_hh: NDArray[np.float32],
    b_in: NDArray[np.float32],
    b_hh: NDArray[np.float32],
    head_weight: NDArray[np.float32],
    head_bias: float,
) -> float:
    length = window.shape[0] - 1 if difference else window.shape[0]
    inputs = np.empty((1, length), dtype=np.float64)  # (1, input_length), scaled
    for t in range(length):
        value = window[t + 1] - window[t] if difference else window[t]
        inputs[0, t] = _finite((value - center) / scale)
    output = _run_windows(inputs, cell_code, w_in, w_hh, b_in, b_hh, head_weight, head_bias)[0]
    restored = _finite(output * scale + center)
    if difference:
        restored = _finite(window[window.shape[0] - 1] + restored)
    return restored
