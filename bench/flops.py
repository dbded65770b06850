"""FLOP counts for the tutorial's LSTM, and this machine's single-thread matmul peak.

Counting convention: a multiply-add is 2 FLOP. One LSTM cell step (input size `n_in`, hidden
size H) does one (1, H + n_in) x (H + n_in, 4H) matmul plus two bias vectors of 4H, i.e.
2 * 4H * (H + n_in + 1) FLOP, and about 9H elementwise FLOP (4 gate activations, f*c + i*g = 3,
o * tanh(c) = 2): 21,250 FLOP for H = 50, n_in = 1. The backward pass costs two matmuls per
forward matmul (gradients for the inputs and for the weights), so training is counted as
3 x forward.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

HIDDEN = 50
INPUTS = 1


def cell_step_flops(hidden: int = HIDDEN, inputs: int = INPUTS) -> int:
    return 2 * 4 * hidden * (hidden + inputs + 1) + 9 * hidden


def window_forward_flops(window: int = 40, hidden: int = HIDDEN) -> int:
    """One fresh-state pass over a window plus the linear head on its last output."""
    return window * cell_step_flops(hidden) + 2 * hidden + 1


def window_training_flops(window: int = 40, hidden: int = HIDDEN) -> int:
    return 3 * window_forward_flops(window, hidden)


def forecast_flops(horizon: int, window: int = 40, hidden: int = HIDDEN) -> int:
    """A horizon-step forecast is `horizon` fresh-state windows, whatever the method."""
    return horizon * window_forward_flops(window, hidden)


def counted_matmul_flops(window: int = 40, hidden: int = HIDDEN) -> tuple[int, int]:
    """torch's FlopCounterMode on an unrolled LSTM cell: (forward, forward + backward) matmul FLOP.

    nn.LSTM on CPU is one fused op the counter cannot see into, so the same arithmetic is
    written out with F.linear; the counter counts matmuls only (no bias adds, no elementwise).
    """
    w_ih = torch.randn(4 * hidden, INPUTS, requires_grad=True)
    w_hh = torch.randn(4 * hidden, hidden, requires_grad=True)
    bias = torch.randn(4 * hidden, requires_grad=True)
    head_w = torch.randn(1, hidden, requires_grad=True)
    seq = torch.randn(window, 1, INPUTS)  # (T, 1, in)

    def forward() -> torch.Tensor:
        h = torch.zeros(1, hidden)
        c = torch.zeros(1, hidden)
        for t in range(window):
            gates = torch.nn.functional.linear(seq[t], w_ih, bias) + h @ w_hh.T  # (1, 4H)
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return (h @ head_w.T).sum()

    with FlopCounterMode(display=False) as counter:
        forward()
    forward_only = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        forward().backward()
    return forward_only, counter.get_total_flops()


def _median_seconds(run: object, repeats: int) -> float:
    assert callable(run)
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def torch_matmul_gflops(size: int, repeats: int) -> float:
    """Single-thread float32 (size x size) @ (size x size) rate; the caller sets 1 thread."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    seconds = _median_seconds(lambda: torch.matmul(a, b, out=out), repeats)
    return 2 * size**3 / seconds / 1e9


def numpy_matmul_gflops(size: int, repeats: int) -> float:
    """float32 numpy matmul rate with numpy's BLAS threads as this process has them."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty((size, size), dtype=np.float32)
    seconds = _median_seconds(lambda: np.matmul(a, b, out=out), repeats)
    return 2 * size**3 / seconds / 1e9


def numpy_single_thread_gflops(sizes: list[int], repeats: int) -> dict[int, float]:
    """numpy's rate with its BLAS pinned to one thread: numpy reads the variable only at start-up,
    so this runs in a child process (the benchmark itself leaves numpy's threads alone)."""
    code = (
        "import json, sys; from bench.flops import numpy_matmul_gflops as f; "
        "print(json.dumps({s: f(s, int(sys.argv[2])) for s in json.loads(sys.argv[1])}))"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(sizes), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    return {int(size): rate for size, rate in json.loads(result.stdout).items()}
