"""The pipelined forecast as one compiled call: every window of every series, every layer.

Step k of the tutorial's forecast runs the model from a zero state over the last `w` values of
(series + forecast[:k]). Window k can start at time k, and at time t every window in flight
reads the same position of the extended sequence (engine.py explains the schedule), so a
horizon-H forecast of B series is w + H - 1 time steps over at most min(w, H) * B rows: the
same H * w cell steps per series as the tutorial, batched. engine.py does this in numpy (~10
calls per step whose overhead is most of their cost); here the whole schedule, with scaling and
differencing, is one numba loop. `forecast_windows` takes any number of windows of one model.

Each step multiplies the in-flight rows' states (A, H) by the recurrent weights (H, G*H) in
`_matmul`, a register-tiled loop (four rows by four inputs per pass over the columns), which
measured faster than BLAS (numba's np.dot) at every size served here; the activations run over
whole row blocks with one division per two or three of them (`_update_cells`).

The arithmetic is float64 (the float32 weights converted exactly, once per call), and the
forecast is the exact one to ~1e-13. PyTorch's float32 loop itself drifts from the exact
forecast on models that oscillate: on 16 models trained on the tutorial's sine, by up to
5.1e-6 at H = 200 and 3.6e-5 at H = 1000. A float32 version of this kernel drifts as much in
its own direction, so it differed from the tutorial's loop by up to 1.0e-5 at H = 200 (the
bound the tests hold) and 6.4e-5 at H = 1000, for a 1.45x shorter run
(bench/forecast_kernel.py has both, and BLAS).

numba caches each compiled function keyed on its own file: after changing kernel.py's `_finite`
delete the `__pycache__/*.nbi` / `*.nbc` files of this module too.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.forecasting.jit import compiled, compiled_exact, compiled_ordered
from app.forecasting.kernel import KernelWeights, _finite

_ROW_BLOCK = 32  # rows advanced together through every layer


@compiled
def _exp(x: float) -> float:
    """exp(x) to 1e-9 (relative) for |x| <= 40, vectorizable where libm's exp is not:
    exp(x) = exp(x / 64) ** 64, the inner one by its Taylor series to degree 11 (|x| / 64 <=
    0.625: truncation < 1.5e-11, x64 after the squarings). Beyond +-40 it is exp(+-40), which
    leaves every sigmoid and tanh below exact to float64 precision (1 / (1 + e^40) < 5e-18).
    A sigmoid or tanh from it is within 3e-10 of the exact value."""
    t = min(max(x, -40.0), 40.0) * (1.0 / 64.0)
    e = 1.0 / 39916800.0  # 1/11!
    e = e * t + 1.0 / 3628800.0
    e = e * t + 1.0 / 362880.0
    e = e * t + 1.0 / 40320.0
    e = e * t + 1.0 / 5040.0
    e = e * t + 1.0 / 720.0
    e = e * t + 1.0 / 120.0
    e = e * t + 1.0 / 24.0
    e = e * t + 1.0 / 6.0
    e = e * t + 0.5
    e = e * t + 1.0
    e = e * t + 1.0  # exp(t)
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    return e * e  # exp(64 t); NaN stays NaN


def forecast_scaled(
    weights: KernelWeights, inputs: NDArray[np.float64], horizon: int
) -> NDArray[np.float64]:
    """(B, L) scaled network inputs -> (B, horizon) scaled network outputs (no scaling)."""
    out: NDArray[np.float64] = _pipeline(
        np.ascontiguousarray(inputs, dtype=np.float64), horizon, *weights.arguments()
    )
    return out


def forecast_windows(
    weights: KernelWeights,
    windows: NDArray[np.float64],
    horizon: int,
    center: float,
    scale: float,
    *,
    difference: bool,
) -> NDArray[np.float64]:
    """(B, w) windows in series units -> (B, horizon) forecasts in series units.

    The same arithmetic as Forecaster's composed path (model_inputs, the pipelined network,
    model_outputs), rounding included. Three compiled calls rather than one: numba would
    optimize the network's code again inside a caller, which tripled the compile time.
    """
    windows = np.ascontiguousarray(windows, dtype=np.float64)
    inputs = _scaled_inputs(windows, center, scale, difference)  # (B, L)
    outputs: NDArray[np.float64] = _pipeline(inputs, horizon, *weights.arguments())
    _restore(outputs, windows, center, scale, difference)
    return outputs


@compiled_ordered
def _matmul(
    rows: NDArray[np.float64], matrix: NDArray[np.float64], out: NDArray[np.float64], width: int
) -> None:
    """out (A, N) += rows[:, :width] (A, width) @ matrix[:width] (width, N).

    Four rows times four inputs per pass over the N columns: each loaded weight serves four
    rows and each loaded output takes four multiply-adds, so the loop is bound by arithmetic
    rather than by loads and stores. Rows left over (A % 4) take the same sums in the same
    order (and the order is kept: compiled_ordered), so a row's result never depends on the
    rows computed with it: a series forecast in a batch gets exactly its forecast alone.
    """
    count = rows.shape[0]
    columns = matrix.shape[1]
    r = 0
    while r + 4 <= count:
        j = 0
        while j + 4 <= width:
            a0, a1, a2, a3 = rows[r, j], rows[r, j + 1], rows[r, j + 2], rows[r, j + 3]
            b0, b1, b2, b3 = (
                rows[r + 1, j],
                rows[r + 1, j + 1],
                rows[r + 1, j + 2],
                rows[r + 1, j + 3],
            )
            c0, c1, c2, c3 = (
                rows[r + 2, j],
                rows[r + 2, j + 1],
                rows[r + 2, j + 2],
                rows[r + 2, j + 3],
            )
            d0, d1, d2, d3 = (
                rows[r + 3, j],
                rows[r + 3, j + 1],
                rows[r + 3, j + 2],
                rows[r + 3, j + 3],
            )
            for k in range(columns):
                m0, m1, m2, m3 = matrix[j, k], matrix[j + 1, k], matrix[j + 2, k], matrix[j + 3, k]
                out[r, k] = out[r, k] + a0 * m0 + a1 * m1 + a2 * m2 + a3 * m3
                out[r + 1, k] = out[r + 1, k] + b0 * m0 + b1 * m1 + b2 * m2 + b3 * m3
                out[r + 2, k] = out[r + 2, k] + c0 * m0 + c1 * m1 + c2 * m2 + c3 * m3
                out[r + 3, k] = out[r + 3, k] + d0 * m0 + d1 * m1 + d2 * m2 + d3 * m3
            j += 4
        while j < width:
            a0, b0, c0, d0 = rows[r, j], rows[r + 1, j], rows[r + 2, j], rows[r + 3, j]
            for k in range(columns):
                m0 = matrix[j, k]
                out[r, k] += a0 * m0
                out[r + 1, k] += b0 * m0
                out[r + 2, k] += c0 * m0
                out[r + 3, k] += d0 * m0
            j += 1
        r += 4
    while r < count:
        j = 0
        while j + 4 <= width:
            a0, a1, a2, a3 = rows[r, j], rows[r, j + 1], rows[r, j + 2], rows[r, j + 3]
            for k in range(columns):
                m0, m1, m2, m3 = matrix[j, k], matrix[j + 1, k], matrix[j + 2, k], matrix[j + 3, k]
                out[r, k] = out[r, k] + a0 * m0 + a1 * m1 + a2 * m2 + a3 * m3
            j += 4
        while j < width:
            a0 = rows[r, j]
            for k in range(columns):
                out[r, k] += a0 * matrix[j, k]
            j += 1
        r += 1


@compiled
def _update_cells(
    cell_code: int,
    gates: NDArray[np.float64],
    from_input: NDArray[np.float64],
    split: NDArray[np.float64],
    h: NDArray[np.float64],
    c: NDArray[np.float64],
) -> None:
    """New states of the block's A rows, in place: h and c (A * H,), flattened rows, from gates
    (A, G*H), which sums every term but for GRU, whose input terms are apart in from_input.

    The gates are first copied gate-major into split (G or 2G, A * H), so the activations run
    over A * H contiguous values: over H alone, H = 50 left 2 of every 50 values to scalar code
    that cost as much as the 48 in 16-wide vectors.

    With e = exp(-x): sigmoid(x) = 1 / (1 + e); with e = exp(-2x): tanh(x) = (1 - e) / (1 + e).
    Products of these fractions share one division (a division costs ~10 multiply-adds):
    LSTM's c = f c + i g and h = o tanh(c) take two instead of five, GRU's three instead of
    four. Every denominator is in [1, 1 + e^40]: a product of three stays finite.
    """
    count, gate_rows = gates.shape
    size = h.shape[0]
    hidden = size // count
    kinds = gate_rows // hidden
    for r in range(count):
        for g in range(kinds):
            for j in range(hidden):
                split[g, r * hidden + j] = gates[r, g * hidden + j]
                if cell_code == 1:
                    split[kinds + g, r * hidden + j] = from_input[r, g * hidden + j]
    if cell_code == 0:  # LSTM, PyTorch order (i, f, g, o)
        for k in range(size):
            d_i = 1.0 + _exp(-split[0, k])  # i = 1 / d_i
            d_f = 1.0 + _exp(-split[1, k])  # f = 1 / d_f
            e_g = _exp(-2.0 * split[2, k])  # g = (1 - e_g) / (1 + e_g)
            d_o = 1.0 + _exp(-split[3, k])  # o = 1 / d_o
            d_ig = d_i * (1.0 + e_g)  # i g = (1 - e_g) / d_ig
            cell = (c[k] * d_ig + (1.0 - e_g) * d_f) / (d_f * d_ig)
            c[k] = cell
            e_c = _exp(-2.0 * cell)
            h[k] = (1.0 - e_c) / (d_o * (1.0 + e_c))
    elif cell_code == 1:  # GRU, PyTorch order (r, z, n); n = tanh(x_n + r * h_n)
        for k in range(size):
            reset = 1.0 / (1.0 + _exp(-(split[3, k] + split[0, k])))
            e_z = _exp(-(split[4, k] + split[1, k]))
            e_n = _exp(-2.0 * (split[5, k] + reset * split[2, k]))
            # h = (1 - z) tanh(n) + z h, with 1 - z = e_z / (1 + e_z)
            d_n = 1.0 + e_n
            h[k] = (e_z * (1.0 - e_n) + h[k] * d_n) / ((1.0 + e_z) * d_n)
    else:  # tanh RNN
        for k in range(size):
            e = _exp(-2.0 * split[0, k])
            h[k] = (1.0 - e) / (1.0 + e)


@compiled
def _step(
    start: int,
    stop: int,
    values: NDArray[np.float64],
    cell_code: int,
    w_in: NDArray[np.float64],
    w_hh: NDArray[np.float64],
    b_in: NDArray[np.float64],
    b_hh: NDArray[np.float64],
    h: NDArray[np.float64],
    c: NDArray[np.float64],
    gates: NDArray[np.float64],
    from_input: NDArray[np.float64],
    split: NDArray[np.float64],
) -> None:
    """Advance rows start..stop one time step through every layer; values (B,) are each
    series' input. Rows go in blocks that keep the gate buffers (block, G*H) in cache."""
    layers, hidden, gate_rows = w_hh.shape
    batch = values.shape[0]
    gru = cell_code == 1  # GRU keeps the input part apart (n); the others sum every term
    for first in range(start, stop, _ROW_BLOCK):
        last = min(first + _ROW_BLOCK, stop)
        count = last - first
        block = gates[:count]
        inputs = from_input[:count] if gru else block
        for layer in range(layers):
            for r in range(count):
                # Layer 0 reads one value per series, the others the new hidden state below.
                x = values[(first + r) % batch] if layer == 0 else 0.0
                if gru:
                    for k in range(gate_rows):
                        block[r, k] = b_hh[layer, k]
                        inputs[r, k] = b_in[layer, k] + x * w_in[0, 0, k]
                else:
                    for k in range(gate_rows):
                        block[r, k] = (b_in[layer, k] + b_hh[layer, k]) + x * w_in[0, 0, k]
            if layer > 0:
                _matmul(h[layer - 1, first:last], w_in[layer], inputs, hidden)
            _matmul(h[layer, first:last], w_hh[layer], block, hidden)
            states = slice(first * hidden, last * hidden)
            _update_cells(
                cell_code,
                block,
                inputs,
                split,
                h[layer].reshape(-1)[states],
                c[layer].reshape(-1)[states],
            )


@compiled
def _pipeline(
    inputs: NDArray[np.float64],
    horizon: int,
    cell_code: int,
    w_in32: NDArray[np.float32],
    w_hh32: NDArray[np.float32],
    b_in32: NDArray[np.float32],
    b_hh32: NDArray[np.float32],
    head_weight: NDArray[np.float32],
    head_bias: float,
) -> NDArray[np.float64]:
    """(B, L) scaled inputs -> (B, horizon) scaled outputs; window m lives in slot m % S."""
    batch, length = inputs.shape
    layers, hidden, gate_rows = w_hh32.shape
    # float32 -> float64 is exact; a few µs for the default model, and no second copy per model.
    w_in, w_hh = w_in32.astype(np.float64), w_hh32.astype(np.float64)
    b_in, b_hh = b_in32.astype(np.float64), b_hh32.astype(np.float64)
    slots = min(length, horizon)
    rows = slots * batch  # slot-major: row = slot * B + series
    out = np.empty((batch, horizon), dtype=np.float64)
    h = np.zeros((layers, rows, hidden))  # (L, S*B, H)
    c = np.zeros((layers, rows, hidden))  # (L, S*B, H): LSTM cell state
    gates = np.empty((_ROW_BLOCK, gate_rows))  # (block, G*H)
    from_input = np.empty((_ROW_BLOCK, gate_rows))  # (block, G*H): GRU's
    split = np.empty((6, _ROW_BLOCK * hidden))  # (2G, block * H)
    values = np.empty(batch)  # (B,): what every window reads at time t
    for t in range(length + horizon - 1):
        if t < horizon:  # window t starts: its slot's state goes back to zero
            first_row = (t % slots) * batch
            h[:, first_row : first_row + batch] = 0.0
            c[:, first_row : first_row + batch] = 0.0
        for b in range(batch):
            values[b] = inputs[b, t] if t < length else out[b, t - length]
        low = (max(0, t - length + 1) % slots) * batch  # the oldest window in flight
        high = (min(t, horizon - 1) % slots + 1) * batch  # past the newest
        if low < high:
            _step(
                low, high, values, cell_code, w_in, w_hh, b_in, b_hh, h, c, gates, from_input, split
            )
        else:  # the windows wrap around the slots: two runs of rows
            _step(
                low, rows, values, cell_code, w_in, w_hh, b_in, b_hh, h, c, gates, from_input, split
            )
            _step(
                0, high, values, cell_code, w_in, w_hh, b_in, b_hh, h, c, gates, from_input, split
            )
        if t >= length - 1:  # window t - L + 1 is complete: the head gives its forecast
            done = t - length + 1
            first_row = (done % slots) * batch
            for b in range(batch):
                total = 0.0
                for j in range(hidden):
                    total += head_weight[j] * h[layers - 1, first_row + b, j]
                out[b, done] = total + head_bias
    return out


@compiled_exact
def _scaled_inputs(
    windows: NDArray[np.float64], center: float, scale: float, difference: bool
) -> NDArray[np.float64]:
    """model_inputs: (B, w) windows -> (B, L) scaled values (or differences), NaN -> 0 and
    +-inf -> the largest float like Scaler.transform."""
    batch, size = windows.shape
    length = size - 1 if difference else size
    inputs = np.empty((batch, length), dtype=np.float64)  # (B, L), scaled
    for b in range(batch):
        for t in range(length):
            value = windows[b, t + 1] - windows[b, t] if difference else windows[b, t]
            inputs[b, t] = _finite((value - center) / scale)
    return inputs


@compiled_exact
def _restore(
    outputs: NDArray[np.float64],
    windows: NDArray[np.float64],
    center: float,
    scale: float,
    difference: bool,
) -> None:
    """model_outputs, in place: (B, H) scaled outputs -> values in series units."""
    batch, size = windows.shape
    for b in range(batch):
        last = windows[b, size - 1]
        running = 0.0  # np.cumsum's sequential sum of the restored differences
        for k in range(outputs.shape[1]):
            restored = _finite(outputs[b, k] * scale + center)
            if difference:
                running += restored
                restored = _finite(last + running)
            outputs[b, k] = restored
