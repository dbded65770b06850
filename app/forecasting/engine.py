"""The pipelined forecast in numpy, with the tutorial's exact semantics: the reference.

Forecaster.forecast / forecast_many run pipeline.py's compiled kernel of the same schedule; the
tests hold it to this version, and `fit` still scores its holdout and calibration with it.

The tutorial forecasts step k by running the model from a zero state over the last `w` values of
(history + predictions so far): `horizon * w` sequential cell steps, each paying PyTorch's per-op
overhead. Because every window starts from zero state, window k can start at time k and all
in-flight windows consume the same value at each time step: at time t they all read position
(n - w + t) of the extended sequence, and window t - w + 1 completes, producing the value read at
time t + 1. So a forecast is `w + horizon - 1` *batched* cell steps over at most `w` windows, with
identical arithmetic per window.

The cell itself is fused: one matmul of [h, x, 1] against a stacked weight matrix gives every
gate's pre-activation (input, recurrent and both biases), and the sigmoid gates come from the same
`tanh` call via sigmoid(z) = (1 + tanh(z / 2)) / 2, with the 1/2 folded into the weights. Buffers
are preallocated; each step is ~10 in-place numpy calls. The arithmetic is float32, like the
trained PyTorch model: float64 doubled the cost of every call (measured) for no accuracy the
model has. One window (/predict-next) is kernel.py's compiled loop instead: there the per-call
overhead of ~10 numpy calls per step is nearly all of the cost.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from app.forecasting.config import ModelConfig
from app.forecasting.kernel import KernelWeights, pack_weights
from app.forecasting.windowing import FloatArray

_DTYPE = np.float32
Buffer = NDArray[np.float32]
_ALWAYS_FULL_ROWS = 256


@dataclass(frozen=True, slots=True)
class _Layer:
    fused: Buffer  # (G, H + in + 1, H): per gate, rows for [h, x, 1]
    input_size: int


@dataclass(frozen=True, slots=True)
class InferenceWeights:
    """Read-only fused weights of a trained model, extracted once from its state dict."""

    config: ModelConfig
    layers: tuple[_Layer, ...]
    head_weight: Buffer  # (hidden,)
    head_bias: float
    kernel: KernelWeights  # the same weights for kernel.py (single windows)

    @classmethod
    def from_state_dict(
        cls, config: ModelConfig, state: Mapping[str, torch.Tensor]
    ) -> InferenceWeights:
        hidden = config.hidden_size
        layers = []
        raw_layers = []
        for layer in range(config.num_layers):
            w_ih = state[f"rnn.weight_ih_l{layer}"].detach().double().numpy()  # (G*H, in)
            w_hh = state[f"rnn.weight_hh_l{layer}"].detach().double().numpy()  # (G*H, H)
            b_ih = state[f"rnn.bias_ih_l{layer}"].detach().double().numpy()  # (G*H,)
            b_hh = state[f"rnn.bias_hh_l{layer}"].detach().double().numpy()  # (G*H,)
            raw_layers.append((w_ih, w_hh, b_ih, b_hh))
            stacked = _fuse(config.cell, hidden, w_ih, w_hh, b_ih, b_hh)  # (R, G*H)
            # Gate-major (G, R, H): each gate's matmul output is then a contiguous (A, H) block;
            # column slices of one (A, G*H) output made every later elementwise op strided and
            # about 4x slower (measured).
            fused: Buffer = np.ascontiguousarray(
                stacked.reshape(stacked.shape[0], -1, hidden).transpose(1, 0, 2), dtype=_DTYPE
            )
            fused.setflags(write=False)
            layers.append(_Layer(fused=fused, input_size=w_ih.shape[1]))
        head_weight = state["head.weight"].detach().numpy().reshape(hidden).astype(_DTYPE)
        head_weight.setflags(write=False)
        head_bias = float(state["head.bias"].detach().double().reshape(()).item())
        return cls(
            config=config,
            layers=tuple(layers),
            head_weight=head_weight,
            head_bias=head_bias,
            kernel=pack_weights(config.cell, raw_layers, head_weight, head_bias),
        )


def _fuse(
    cell: str,
    hidden: int,
    w_ih: FloatArray,
    w_hh: FloatArray,
    b_ih: FloatArray,
    b_hh: FloatArray,
) -> FloatArray:
    """Stack recurrent, input and bias terms into one (H + in + 1, columns) matrix."""
    inputs = w_ih.shape[1]
    rows = hidden + inputs + 1

    def block(gate_rows: slice, *, recurrent: bool = True, input_: bool = True) -> FloatArray:
        out = np.zeros((rows, gate_rows.stop - gate_rows.start))  # (H + in + 1, H)
        bias = np.zeros(gate_rows.stop - gate_rows.start)
        if recurrent:
            out[:hidden] = w_hh[gate_rows].T
            bias += b_hh[gate_rows]
        if input_:
            out[hidden : hidden + inputs] = w_ih[gate_rows].T
            bias += b_ih[gate_rows]
        out[-1] = bias
        return out

    def gate(k: int) -> slice:
        return slice(k * hidden, (k + 1) * hidden)

    if cell == "lstm":
        # PyTorch order is (i, f, g, o); reorder to (i, f, o, g) so the sigmoid gates are contiguous
        # and pre-halve them for the tanh form of the sigmoid.
        i, f, g, o = (block(gate(k)) for k in range(4))
        return np.concatenate([0.5 * i, 0.5 * f, 0.5 * o, g], axis=1)  # (R, 4H)
    if cell == "gru":
        # PyTorch order is (r, z, n); n needs its recurrent part apart: n = tanh(x_n + r * h_n).
        r, z = block(gate(0)), block(gate(1))
        n_recurrent = block(gate(2), input_=False)
        n_input = block(gate(2), recurrent=False)
        return np.concatenate([0.5 * r, 0.5 * z, n_recurrent, n_input], axis=1)  # (R, 4H)
    if cell == "rnn":
        return block(gate(0))  # (R, H)
    raise ValueError(f"unknown cell {cell!r}")


@dataclass(slots=True)  # not frozen: the in-place operators (`v.x *= y`) rebind attributes
class _LayerViews:
    """Views of one layer's buffers restricted to a row range, built once per range."""

    aug: Buffer  # (A, H + in + 1)
    below: Buffer | None  # (A, H): the previous layer's new hidden state, None for layer 0
    gates: Buffer  # (G, A, H)
    gate_parts: tuple[Buffer, ...]  # (A, H) each
    sigmoid_part: Buffer  # (S, A, H): the gates whose tanh becomes a sigmoid
    h_out: Buffer  # (A, H)
    cell_state: Buffer  # (A, H)
    scratch: Buffer  # (A, H)


class _Stepper:
    """Preallocated state for `rows` windows advanced together through every layer."""

    def __init__(self, weights: InferenceWeights, rows: int) -> None:
        self.weights = weights
        self.cell = weights.config.cell
        self.hidden = weights.config.hidden_size
        hidden = self.hidden
        # aug[l] holds [h_l, input_l, 1] so one matmul computes every gate of layer l.
        self.aug = []
        for layer in weights.layers:
            aug = np.zeros((rows, hidden + layer.input_size + 1), dtype=_DTYPE)  # (R, H + in + 1)
            aug[:, -1] = 1.0
            self.aug.append(aug)
        self.gates = [
            np.empty((layer.fused.shape[0], rows, hidden), dtype=_DTYPE)  # (G, R, H)
            for layer in weights.layers
        ]
        self.cells = [np.zeros((rows, hidden), dtype=_DTYPE) for _ in weights.layers]  # LSTM only
        self.scratch = np.empty((rows, hidden), dtype=_DTYPE)
        self._views: dict[tuple[int, int], tuple[_LayerViews, ...]] = {}

    def views(self, rows: slice) -> tuple[_LayerViews, ...]:
        key = (rows.start, rows.stop)
        cached = self._views.get(key)
        if cached is None:
            cached = tuple(self._layer_views(index, rows) for index in range(len(self.aug)))
            if len(self._views) < 4:  # only the few ranges that repeat are worth keeping
                self._views[key] = cached
        return cached

    def _layer_views(self, index: int, rows: slice) -> _LayerViews:
        hidden = self.hidden
        gates = self.gates[index][:, rows]  # (G, A, H)
        parts = tuple(gates[k] for k in range(gates.shape[0]))
        sigmoid_gates = {"lstm": 3, "gru": 2, "rnn": 0}[self.cell]
        aug = self.aug[index][rows]
        return _LayerViews(
            aug=aug,
            below=self.aug[index - 1][rows, :hidden] if index > 0 else None,
            gates=gates,
            gate_parts=parts,
            sigmoid_part=gates[:sigmoid_gates],
            h_out=aug[:, :hidden],
            cell_state=self.cells[index][rows],
            scratch=self.scratch[rows],
        )

    def reset(self, rows: slice) -> None:
        for aug, cell_state in zip(self.aug, self.cells, strict=True):
            aug[rows, : self.hidden] = 0.0
            cell_state[rows] = 0.0

    def step(self, rows: slice, inputs: FloatArray | float) -> None:
        """Advance `rows` one time step; `inputs` is broadcast into the first layer's x column."""
        hidden = self.hidden
        for layer, v in zip(self.weights.layers, self.views(rows), strict=True):
            if v.below is None:
                v.aug[:, hidden] = inputs
            else:
                v.aug[:, hidden:-1] = v.below
            np.matmul(v.aug, layer.fused, out=v.gates)
            if self.cell == "lstm":
                in_gate, forget_gate, out_gate, candidate = v.gate_parts
                np.tanh(v.gates, out=v.gates)
                v.sigmoid_part *= 0.5
                v.sigmoid_part += 0.5
                v.cell_state *= forget_gate
                np.multiply(in_gate, candidate, out=v.scratch)
                v.cell_state += v.scratch
                np.tanh(v.cell_state, out=v.scratch)
                np.multiply(out_gate, v.scratch, out=v.h_out)  # h = o * tanh(c), in place
            elif self.cell == "gru":
                reset_gate, update_gate, n_recurrent, n = v.gate_parts
                np.tanh(v.sigmoid_part, out=v.sigmoid_part)
                v.sigmoid_part *= 0.5
                v.sigmoid_part += 0.5
                n_recurrent *= reset_gate
                n += n_recurrent
                np.tanh(n, out=n)  # n = tanh(x_n + r * h_n)
                np.subtract(v.h_out, n, out=v.scratch)
                v.scratch *= update_gate
                np.add(n, v.scratch, out=v.h_out)  # h = (1 - z) * n + z * h
            else:
                np.tanh(v.gate_parts[0], out=v.h_out)

    def output(self, rows: slice) -> FloatArray:
        """The head applied to the top layer's hidden state of `rows`: (A,)."""
        top = self.aug[-1][rows, : self.hidden]  # (A, H)
        return (top @ self.weights.head_weight).astype(np.float64) + self.weights.head_bias


def forecast_pipelined(
    weights: InferenceWeights, histories: FloatArray, horizon: int
) -> FloatArray:
    """(B, w) last scaled windows -> (B, horizon) autoregressive forecasts.

    Window m (forecast step m) occupies slot m % S of S = min(w, horizon) slots, each slot being B
    consecutive rows (one per series). At time t every in-flight window reads the same extended
    position; window t - w + 1 completes and its output becomes the input of time t + 1.
    """
    batch, window = histories.shape
    slots = min(window, horizon)
    stepper = _Stepper(weights, slots * batch)
    forecast = np.empty((batch, horizon))
    every = slice(0, slots * batch)

    def rows_of(first: int, last: int) -> slice:
        """Rows of windows first..last if their slots are contiguous, else every row.

        Rows of windows not yet started or already done hold harmless values (a start resets its
        slot). For small buffers stepping every row is faster than slicing: the per-call overhead
        of strided views outweighs the arithmetic saved (measured: H=40, one series, 5.5 vs 7.5 ms).
        """
        if slots * batch <= _ALWAYS_FULL_ROWS:
            return every
        lo, hi = first % slots, last % slots
        return slice(lo * batch, (hi + 1) * batch) if lo <= hi else every

    # Large batched matmuls make OpenBLAS split each one over every core and wait for the busiest:
    # 2.1 s instead of 0.07 s for 64 series at H=40 on a loaded 2-core machine (bench/core.py).
    # The steps are sequential and small, so one BLAS thread is always faster here.
    with _one_blas_thread() if slots * batch > _ALWAYS_FULL_ROWS else contextlib.nullcontext():
        _run_pipeline(stepper, histories, forecast, horizon, rows_of)
    return forecast


def _run_pipeline(
    stepper: _Stepper,
    histories: FloatArray,
    forecast: FloatArray,
    horizon: int,
    rows_of: Callable[[int, int], slice],
) -> None:
    batch, window = histories.shape
    slots = min(window, horizon)
    for t in range(window + horizon - 1):
        if t < horizon:
            start = (t % slots) * batch
            stepper.reset(slice(start, start + batch))
        first, last = max(0, t - window + 1), min(t, horizon - 1)
        value = histories[:, t] if t < window else forecast[:, t - window]  # (B,)
        rows = rows_of(first, last)
        # Rows are window-major: broadcast one value per series over every window in `rows`.
        active_windows = (rows.stop - rows.start) // batch
        stepper.step(rows, np.tile(value, active_windows) if batch > 1 else float(value[0]))
        if t >= window - 1:
            done = (t - window + 1) % slots
            forecast[:, t - window + 1] = stepper.output(slice(done * batch, (done + 1) * batch))


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # inspects the loaded libraries once (milliseconds)


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    limiter: contextlib.AbstractContextManager[object] = _blas_controller().limit(
        limits=1, user_api="blas"
    )  # ~15 µs per use
    return limiter
