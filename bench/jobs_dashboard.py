"""Costs of background jobs and of the chart: what progress hooks add to a training, how soon a
cancel stops one, how long plot.svg takes, how fast the client and CLI start.

    .venv/bin/python -m bench.jobs_dashboard

Prints medians (and ratios measured in the same run); absolute times on shared machines vary.
"""

from __future__ import annotations

import math
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from app.execution.hooks import WorkerHooks
from app.execution.worker import TrainingPlan, train_in_worker
from app.forecasting import ModelConfig, TrainingConfig
from app.forecasting.checkpoint import parse_checkpoint
from app.forecasting.metadata import VersionMetadata
from app.plot import ChartData, forecast_svg

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5


def tutorial_plan() -> TrainingPlan:
    series = np.sin(np.arange(800, dtype=np.float64) * 2 * 3.1416 / 40)
    return TrainingPlan(
        series=series,
        model_config=ModelConfig(),
        training=TrainingConfig(max_epochs=6, seed=0),
        test_size=40,
        season_length=None,
        metadata=VersionMetadata("bench", 1, "2026-01-01T00:00:00Z"),
    )


def hooks_overhead() -> tuple[float, float]:
    """Median training seconds without and with Manager-proxy hooks, alternating runs."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(train_in_worker, tutorial_plan(), None).result()  # warm: torch imported
        plain, hooked = [], []
        for _ in range(REPEATS):
            for hooks, times in (
                (None, plain),
                (WorkerHooks(manager.Queue(), manager.Event()), hooked),
            ):
                checkpoint = pool.submit(train_in_worker, tutorial_plan(), hooks).result()
                forecaster, _ = parse_checkpoint(checkpoint)
                times.append(forecaster.training.seconds)
    return statistics.median(plain), statistics.median(hooked)


def cancel_latency() -> list[float]:
    """Seconds from DELETE /jobs/{id} to the job's final `cancelled` state, through the app."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    latencies = []
    try:
        app = create_app(Settings(model_store=root, default_max_epochs=1, log_level="warning"))
        with TestClient(app) as client:
            while client.get("/readyz").status_code != 200:
                time.sleep(0.1)
            series = [math.sin(i * 2 * math.pi / 40) for i in range(800)]
            for attempt in range(REPEATS):
                body = {"model": f"c{attempt}", "series": series, "epochs": 500, "wait": False}
                job_id = client.post("/train", json=body).json()["id"]
                while not (client.get(f"/jobs/{job_id}").json()["progress"] or {}).get("epoch"):
                    time.sleep(0.02)
                started = time.perf_counter()
                client.delete(f"/jobs/{job_id}")
                while client.get(f"/jobs/{job_id}").json()["status"] != "cancelled":
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - started)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return latencies


def plot_seconds(n: int, horizon: int) -> float:
    series = list(np.sin(np.arange(n) * 0.05))
    data = ChartData("bench", series, holdout_forecast=series[-40:], future=series[:horizon])
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        forecast_svg(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def startup_seconds(*command: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    plain, hooked = hooks_overhead()
    print(f"training, tutorial LSTM, 6 epochs + 2 refit (median of {REPEATS}):")
    print(
        f"  without hooks {plain:.3f} s, with progress + cancel hooks {hooked:.3f} s, "
        f"ratio {hooked / plain:.3f}"
    )
    latencies = cancel_latency()
    print(
        f"cancel: DELETE -> cancelled, median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms over {len(latencies)}"
    )
    for n, horizon in ((800, 40), (10_000, 200), (100_000, 1000)):
        print(
            f"plot.svg render, series {n}, horizon {horizon}: "
            f"{plot_seconds(n, horizon) * 1000:.1f} ms"
        )
    client = startup_seconds("-c", "import app.client")
    server = startup_seconds("-c", "import app.main")
    cli = startup_seconds("-m", "app", "--help")
    print(
        f"import app.client {client:.2f} s, python -m app --help {cli:.2f} s, "
        f"import app.main {server:.2f} s (median of 3)"
    )


if __name__ == "__main__":
    main()
