"""Forecast latency: the tutorial's per-step loop vs `Forecaster.forecast` on the same weights.

numpy's BLAS (OpenBLAS) picks its own thread count and reads OPENBLAS_NUM_THREADS only when it
loads, so `measure_in_child` re-runs the measurement in a child process with one BLAS thread,
on the same weights (passed through a checkpoint). Run directly it is that child:

    .venv/bin/python -m bench.forecast_speed CHECKPOINT --horizons 40:31,200:11 \
        --batch-count 64 --batch-horizons 40:7     # prints JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from app.forecasting import Forecaster, load_checkpoint, save_checkpoint
from bench import tutorial
from bench.flops import forecast_flops

AGREEMENT = 1e-4  # largest allowed |ours - tutorial| over every forecast value
ROOT = Path(__file__).resolve().parent.parent


def tutorial_forecaster(forecaster: Forecaster) -> Callable[[np.ndarray, int], np.ndarray]:
    """The tutorial's loop on our weights. Our model works in scaled units, so the window is
    scaled once before the loop and the forecast unscaled once after it (O(horizon) numpy; on
    the sine the scaler is within 1e-5 of the identity anyway)."""
    model = tutorial.from_state(forecaster.state)
    scaler = forecaster.scaler
    window = forecaster.window_size

    def run(history: np.ndarray, horizon: int) -> np.ndarray:
        scaled = scaler.transform(history[-window:]).tolist()
        return scaler.inverse_transform(np.array(tutorial.forecast(model, scaled, horizon)))

    return run


@dataclass(frozen=True, slots=True)
class Latency:
    label: str
    horizon: int
    series: int
    tutorial_seconds: float  # median wall time
    ours_seconds: float  # median wall time
    ours_cpu_seconds: float  # median process CPU time over the same calls (all threads)
    max_abs_diff: float
    flops: float  # per call, both methods

    @property
    def ratio(self) -> float:
        return self.tutorial_seconds / self.ours_seconds


def _interleaved(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[float, float, float]:
    """Median wall seconds of each and median CPU seconds of `second`, calls alternating so
    both see the same machine noise."""
    first(), second()  # warm-up
    wall: tuple[list[float], list[float]] = ([], [])
    cpu: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        first()
        wall[0].append(time.perf_counter() - started)
        started, cpu_started = time.perf_counter(), time.process_time()
        second()
        wall[1].append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return float(np.median(wall[0])), float(np.median(wall[1])), float(np.median(cpu))


def single_series(forecaster: Forecaster, horizon: int, repeats: int) -> Latency:
    loop = tutorial_forecaster(forecaster)
    history = forecaster.series
    diff = float(np.max(np.abs(forecaster.forecast(horizon) - loop(history, horizon))))
    tutorial_s, ours_s, ours_cpu = _interleaved(
        lambda: loop(history, horizon), lambda: forecaster.forecast(horizon), repeats
    )
    flops = float(forecast_flops(horizon))
    return Latency("forecast", horizon, 1, tutorial_s, ours_s, ours_cpu, diff, flops)


def batch_histories(series: np.ndarray, count: int) -> list[np.ndarray]:
    """`count` different series: the sine cut at different ends and scaled by 0.5..1."""
    return [series[: len(series) - i] * (0.5 + i / (2 * count)) for i in range(count)]


def many_series(forecaster: Forecaster, horizon: int, count: int, repeats: int) -> Latency:
    loop = tutorial_forecaster(forecaster)
    histories = batch_histories(np.asarray(forecaster.series), count)

    def loops() -> np.ndarray:
        return np.stack([loop(history, horizon) for history in histories])

    diff = float(np.max(np.abs(forecaster.forecast_many(histories, horizon) - loops())))
    tutorial_s, ours_s, ours_cpu = _interleaved(
        loops, lambda: forecaster.forecast_many(histories, horizon), repeats
    )
    flops = float(count * forecast_flops(horizon))
    return Latency("forecast_many", horizon, count, tutorial_s, ours_s, ours_cpu, diff, flops)


def measure(
    forecaster: Forecaster,
    horizons: dict[int, int],
    batch_count: int,
    batch_horizons: dict[int, int],
    log: Callable[[str], None] = lambda _: None,
) -> list[Latency]:
    """Every latency, in order: single-series horizons, then the batched ones (horizon: repeats)."""
    results = []
    for horizon, repeats in horizons.items():
        log(f"forecast latency, horizon {horizon}")
        results.append(single_series(forecaster, horizon, repeats))
    for horizon, repeats in batch_horizons.items():
        log(f"forecast latency, {batch_count} series, horizon {horizon}")
        results.append(many_series(forecaster, horizon, batch_count, repeats))
    return results


def _spec(pairs: dict[int, int]) -> str:
    return ",".join(f"{h}:{n}" for h, n in pairs.items())


def _parse_spec(text: str) -> dict[int, int]:
    return {int(h): int(n) for h, n in (pair.split(":") for pair in text.split(",") if pair)}


def measure_in_child(
    forecaster: Forecaster,
    horizons: dict[int, int],
    batch_count: int,
    batch_horizons: dict[int, int],
) -> list[Latency]:
    """`measure` in a child process whose numpy BLAS is pinned to one thread."""
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = Path(directory) / "forecaster.ckpt"
        save_checkpoint(checkpoint, forecaster)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.forecast_speed",
                str(checkpoint),
                "--horizons",
                _spec(horizons),
                "--batch-count",
                str(batch_count),
                "--batch-horizons",
                _spec(batch_horizons),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    return [Latency(**row) for row in json.loads(result.stdout)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="forecast latencies of a checkpoint, as JSON")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--horizons", type=_parse_spec, default={40: 31})
    parser.add_argument("--batch-count", type=int, default=64)
    parser.add_argument("--batch-horizons", type=_parse_spec, default={})
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    forecaster, _ = load_checkpoint(args.checkpoint)
    results = measure(forecaster, args.horizons, args.batch_count, args.batch_horizons)
    print(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
