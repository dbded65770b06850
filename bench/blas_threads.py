"""numpy's BLAS threads and `forecast_many`: default OpenBLAS threads vs one, with and without
another process keeping one of the two cores busy.

    .venv/bin/python -m bench.blas_threads    # 1-3 minutes (the slow cases are the point)

`Forecaster.forecast_many` does its matmuls in numpy, and OpenBLAS splits a matmul over every
core once it is large enough (64 series give (A, 52) x (52, 50) products with A up to 2560), no
matter what `torch.set_num_threads` says. Each measurement runs in a fresh child process because
OpenBLAS reads OPENBLAS_NUM_THREADS only when it loads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from app.forecasting import ModelConfig, TrainingConfig, fit, load_checkpoint, save_checkpoint
from bench import tutorial
from bench.forecast_speed import batch_histories
from bench.report import Report

ROOT = Path(__file__).resolve().parent.parent
BUSY_LOOP = "while True: pass"


def child(checkpoint: Path, count: int, horizon: int, repeats: int) -> dict[str, float]:
    """Median wall and CPU milliseconds of `forecast_many` in this process."""
    torch.set_num_threads(1)
    forecaster, _ = load_checkpoint(checkpoint)
    histories = batch_histories(np.asarray(forecaster.series), count)
    forecaster.forecast_many(histories, horizon)  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        forecaster.forecast_many(histories, horizon)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return {"wall_ms": float(np.median(wall)) * 1e3, "cpu_ms": float(np.median(cpu)) * 1e3}


def run_child(checkpoint: Path, threads: str, count: int, horizon: int, repeats: int) -> dict:
    env = dict(os.environ)
    if threads == "1":
        env["OPENBLAS_NUM_THREADS"] = "1"
    else:
        env.pop("OPENBLAS_NUM_THREADS", None)
    command = [sys.executable, "-m", "bench.blas_threads", "--child", str(checkpoint)]
    command += ["--count", str(count), "--horizon", str(horizon), "--repeats", str(repeats)]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the settings")
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.count, args.horizon, args.repeats)))
        return 0

    torch.set_num_threads(1)
    # Speed does not depend on how well the weights are trained: two epochs are enough.
    config = TrainingConfig(max_epochs=2, refit_epochs=0, seed=0)
    forecaster = fit(tutorial.sine().numpy(), ModelConfig(), config, test_size=tutorial.TEST_SIZE)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = Path(directory) / "forecaster.ckpt"
        save_checkpoint(checkpoint, forecaster)
        for competitor in (False, True):
            busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if competitor else None
            try:
                time.sleep(0.5 if busy else 0)
                for round_ in range(1, args.rounds + 1):
                    for threads in ("default", "1"):
                        load = os.getloadavg()[0]
                        m = run_child(checkpoint, threads, args.count, args.horizon, args.repeats)
                        rows.append(
                            [
                                "+ one busy-loop process" if busy else "none started here",
                                str(round_),
                                threads,
                                f"{m['wall_ms']:.1f}",
                                f"{m['cpu_ms']:.1f}",
                                f"{m['cpu_ms'] / m['wall_ms']:.2f}",
                                f"{load:.2f}",
                            ]
                        )
            finally:
                if busy is not None:
                    busy.terminate()
                    busy.wait()
    report = Report()
    report.title("numpy BLAS threads and forecast_many")
    report.line(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
    report.line(
        f"`forecast_many` of {args.count} series, horizon {args.horizon}, median of "
        f"{args.repeats} calls per child process; torch.set_num_threads(1) everywhere; "
        f"{os.cpu_count()} cores. Command: `.venv/bin/python -m bench.blas_threads`."
    )
    report.line("")
    report.table(
        [
            "other load",
            "round",
            "OPENBLAS_NUM_THREADS",
            "wall ms",
            "CPU ms",
            "CPU / wall",
            "1-min load average before",
        ],
        rows,
    )
    print(report.text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
