"""The pipelined forecast kernel against its variants: BLAS vs the tiled loop, float32 vs float64.

    .venv/bin/python -m bench.forecast_kernel            # ~5 minutes; prints a markdown table
    .venv/bin/python -m bench.forecast_kernel --quick    # one round

The variants are built from app/forecasting/pipeline.py's own source, each with one change, so
they stay what the shipped kernel is but for that change (the substitutions are asserted):

- `loop, float64`: the shipped kernel (register-tiled matmul, float64 arithmetic).
- `loop, float32`: the same with float32 weights, states and matmul (activations in float64).
- `BLAS, float64` / `BLAS, float32`: the per-step products by numba's np.dot, which calls
  SciPy's BLAS (OpenBLAS, one thread here). Needs SciPy, which the service does not depend on
  (`pip install scipy` to include them; they are skipped without it).

The default model (the tutorial's LSTM(1, 50), window 40, random weights: the cost does not
depend on them) forecasts B series of H steps. Calls alternate between variants; each round
gives every variant's median, the table the median round and the spread. Times are CPU time of
this thread (wall time moves with other processes on a shared machine; the CPU time much less)
with the wall-clock median beside it. GFLOP/s counts H * B * 850,101 FLOP (bench/flops.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from app.forecasting import ModelConfig
from app.forecasting.engine import InferenceWeights
from app.forecasting.model import RecurrentRegressor
from bench.flops import forecast_flops

SOURCE = Path(__file__).resolve().parents[1] / "app" / "forecasting" / "pipeline.py"
CASES = [(1, 40), (1, 200), (1, 1000), (64, 40), (64, 200), (64, 1000)]  # (series, horizon)

FLOAT32 = [  # float32 weights, states and matmul; the activations still compute in float64
    (
        "    w_in, w_hh = w_in32.astype(np.float64), w_hh32.astype(np.float64)\n"
        "    b_in, b_hh = b_in32.astype(np.float64), b_hh32.astype(np.float64)\n",
        "    w_in, w_hh, b_in, b_hh = w_in32, w_hh32, b_in32, b_hh32\n",
    ),
    (
        "    h = np.zeros((layers, rows, hidden))",
        "    h = np.zeros((layers, rows, hidden), dtype=np.float32)",
    ),
    (
        "    c = np.zeros((layers, rows, hidden))",
        "    c = np.zeros((layers, rows, hidden), dtype=np.float32)",
    ),
    (
        "    gates = np.empty((_ROW_BLOCK, gate_rows))",
        "    gates = np.empty((_ROW_BLOCK, gate_rows), dtype=np.float32)",
    ),
    (
        "    from_input = np.empty((_ROW_BLOCK, gate_rows))",
        "    from_input = np.empty((_ROW_BLOCK, gate_rows), dtype=np.float32)",
    ),
    (
        "    split = np.empty((6, _ROW_BLOCK * hidden))",
        "    split = np.empty((6, _ROW_BLOCK * hidden), dtype=np.float32)",
    ),
]
BLAS = [
    (
        "                _matmul(h[layer - 1, first:last], w_in[layer], inputs, hidden)",
        "                inputs += np.dot(h[layer - 1, first:last], w_in[layer])",
    ),
    (
        "            _matmul(h[layer, first:last], w_hh[layer], block, hidden)",
        "            block += np.dot(h[layer, first:last], w_hh[layer])",
    ),
]


def variant(name: str, substitutions: list[tuple[str, str]]) -> types.ModuleType:
    """pipeline.py with `substitutions` applied, as a fresh module (compiled, not cached)."""
    text = SOURCE.read_text()
    for old, new in substitutions:
        if text.count(old) != 1:
            raise RuntimeError(f"{name}: pipeline.py no longer holds {old.strip()!r} once")
        text = text.replace(old, new)
    module = types.ModuleType(f"pipeline_{name.replace(', ', '_').replace(' ', '_')}")
    exec(compile(text, f"<{name}>", "exec"), module.__dict__)
    return module


def variants() -> dict[str, types.ModuleType]:
    found = {
        "loop, float64": variant("loop, float64", []),
        "loop, float32": variant("loop, float32", FLOAT32),
    }
    if importlib.util.find_spec("scipy") is not None:  # numba's np.dot needs SciPy's BLAS
        found["BLAS, float64"] = variant("BLAS, float64", BLAS)
        found["BLAS, float32"] = variant("BLAS, float32", FLOAT32 + BLAS)
    return found


def timed(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    call()
    return time.thread_time() - cpu, time.perf_counter() - wall


def default_weights() -> InferenceWeights:
    torch.manual_seed(0)
    config = ModelConfig()
    return InferenceWeights.from_state_dict(config, RecurrentRegressor(config).state_dict())


def measure(kernels: dict[str, types.ModuleType], rounds: int) -> list[str]:
    weights = default_weights()
    rows = []
    for batch, horizon in CASES:
        inputs = np.sin(np.arange(batch * 40).reshape(batch, 40) * 2 * np.pi / 40)
        reference = kernels["loop, float64"].forecast_scaled(weights.kernel, inputs, horizon)
        calls = {
            name: (lambda m=module: m.forecast_scaled(weights.kernel, inputs, horizon))  # noqa: B023
            for name, module in kernels.items()
        }
        diffs = {name: float(np.max(np.abs(call() - reference))) for name, call in calls.items()}
        repeats = max(3, round(400 / (batch * horizon / 40) ** 0.8))
        cpu: dict[str, list[float]] = {name: [] for name in calls}
        wall: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
            for _ in range(repeats):
                for name, call in calls.items():
                    times[name].append(timed(call))
            for name, pairs in times.items():
                cpu[name].append(statistics.median(p[0] for p in pairs) * 1e3)
                wall[name].append(statistics.median(p[1] for p in pairs) * 1e3)
        flops = batch * forecast_flops(horizon)
        for name in calls:
            ms = statistics.median(cpu[name])
            rows.append(
                f"| {batch} | {horizon} | {name} | {ms:.3f} ({min(cpu[name]):.3f}-"
                f"{max(cpu[name]):.3f}) | {statistics.median(wall[name]):.3f} | "
                f"{flops / ms / 1e6:.1f} | {diffs[name]:.1e} |"
            )
        print(f"series {batch}, horizon {horizon}: done", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    kernels = variants()
    for module in kernels.values():  # compiles; loads SciPy's OpenBLAS for the BLAS variants
        module.forecast_scaled(default_weights().kernel, np.zeros((1, 40)), 1)
    with threadpool_limits(limits=1):  # every BLAS loaded by now, SciPy's too
        rows = measure(kernels, 1 if args.quick else 3)
    end = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"Load average at the start {load}, at the end {end}.\n")
    print(
        "| series | horizon | variant | CPU ms (spread of rounds) | wall ms | GFLOP/s (CPU) "
        "| max abs diff from `loop, float64` |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
