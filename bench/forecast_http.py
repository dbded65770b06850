"""POST /forecast through real HTTP vs the tutorial's loop, per horizon, with the FLOP share.

    .venv/bin/python -m bench.forecast_http             # ~1.5 minutes; prints a markdown report
    .venv/bin/python -m bench.forecast_http --quick     # one round, few repeats

One `uvicorn app.main:app --workers 1` on loopback (FORECAST_TORCH_THREADS=1, one BLAS
thread) serves the default model (the tutorial's LSTM, trained briefly by the app itself: the
cost of a forecast does not depend on the weights). This process runs the tutorial's loop
(bench/tutorial.py, one torch thread) on the same weights, and sends /forecast requests for the
default model's own series over one keep-alive connection (http.client: a few µs per request
where httpx takes ~100 µs). Calls alternate, so both see the same machine noise. Each round
gives the median of its calls; the report gives the median round and the spread of rounds.

Also measured: `Forecaster.forecast` in this process (the model alone, no HTTP) and the
single-thread matmul peak (bench/flops.py, float32 and float64), so the report shows what
share of the peak each forecast reaches: a horizon-H forecast is H * 850,101 FLOP whatever the
method (bench/flops.py counts them).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.forecasting import Forecaster
from app.forecasting.checkpoint import load_checkpoint
from bench.flops import forecast_flops, torch_matmul_gflops
from bench.forecast_speed import tutorial_forecaster
from bench.load_server import prepare_store, serve
from bench.report import Report, fmt_ratio

AGREEMENT = 1e-5  # largest allowed |/forecast - tutorial loop| over every forecast value
TARGETS = {40: 3.0, 200: 8.0, 1000: 10.0}  # issue 15: tutorial / (/forecast), HTTP included
FULL_ROUNDS, FULL_REPEATS = 5, {40: 41, 200: 15, 1000: 5}  # repeats per round, by horizon
QUICK_ROUNDS, QUICK_REPEATS = 1, {40: 11, 200: 5, 1000: 3}


class ForecastClient:
    """POST /forecast over one keep-alive connection; returns the decoded forecast."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def forecast(self, horizon: int) -> list[float]:
        body = json.dumps({"model": "default", "horizon": horizon})
        self.connection.request(
            "POST", "/forecast", body, headers={"Content-Type": "application/json"}
        )
        response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"/forecast answered {response.status}: {payload[:300]!r}")
        forecast: list[float] = json.loads(payload)["forecast"]
        return forecast


@dataclass(frozen=True, slots=True)
class Row:
    horizon: int
    tutorial_ms: list[float]  # per round: median wall time
    http_ms: list[float]
    model_ms: list[float]  # Forecaster.forecast in this process
    max_abs_diff: float

    @staticmethod
    def _median(values: list[float]) -> float:
        return statistics.median(values)

    @property
    def ratio(self) -> float:
        return self._median(self.tutorial_ms) / self._median(self.http_ms)

    def spread(self, values: list[float]) -> str:
        return f"{min(values):.2f}-{max(values):.2f}"


def _round(calls: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median ms of each call over `repeats`, the calls alternating."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for index, call in enumerate(calls):
            started = time.perf_counter()
            call()
            times[index].append(time.perf_counter() - started)
    return [statistics.median(t) * 1e3 for t in times]


def measure(
    forecaster: Forecaster, client: ForecastClient, rounds: int, repeats: dict[int, int]
) -> list[Row]:
    loop = tutorial_forecaster(forecaster)
    history = np.asarray(forecaster.series)
    rows = []
    for horizon, count in repeats.items():
        reference = loop(history, horizon)
        answer = np.array(client.forecast(horizon))
        diff = float(np.max(np.abs(answer - reference)))
        calls: list[Callable[[], object]] = [
            lambda: loop(history, horizon),  # noqa: B023 (called before the loop moves on)
            lambda: client.forecast(horizon),  # noqa: B023
            lambda: forecaster.forecast(horizon),  # noqa: B023
        ]
        _round(calls, 2)  # warm-up
        medians = [_round(calls, count) for _ in range(rounds)]
        rows.append(
            Row(
                horizon=horizon,
                tutorial_ms=[m[0] for m in medians],
                http_ms=[m[1] for m in medians],
                model_ms=[m[2] for m in medians],
                max_abs_diff=diff,
            )
        )
    return rows


def float64_matmul_gflops(size: int, repeats: int) -> float:
    a = torch.randn(size, size, dtype=torch.float64)
    b = torch.randn(size, size, dtype=torch.float64)
    out = torch.empty(size, size, dtype=torch.float64)
    torch.matmul(a, b, out=out)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b, out=out)
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times) / 1e9


def peaks() -> tuple[float, float]:
    """Best single-thread float32 and float64 matmul rates (GFLOP/s), torch, 256-1024."""
    sizes = (256, 512, 1024)
    return (
        max(torch_matmul_gflops(size, 15) for size in sizes),
        max(float64_matmul_gflops(size, 15) for size in sizes),
    )


def report(rows: list[Row], peak32: float, peak64: float, loads: tuple[str, str]) -> str:
    out = Report()
    out.title("POST /forecast through HTTP vs the tutorial's loop")
    out.line(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, numpy {np.__version__}; load average at the start "
        f"{loads[0]}, at the end {loads[1]}. Single-thread matmul peak (torch, best of 256-1024): "
        f"float32 {peak32:.1f} GFLOP/s, float64 {peak64:.1f} GFLOP/s."
    )
    out.line("")
    table = []
    for r in rows:
        flops = forecast_flops(r.horizon)
        tutorial, http, model = (
            statistics.median(r.tutorial_ms),
            statistics.median(r.http_ms),
            statistics.median(r.model_ms),
        )
        target = TARGETS.get(r.horizon)
        table.append(
            [
                str(r.horizon),
                f"{flops / 1e6:.0f}",
                f"{tutorial:.2f} ({r.spread(r.tutorial_ms)})",
                f"{http:.3f} ({r.spread(r.http_ms)})",
                f"**{fmt_ratio(r.ratio)}**" + (f" (target {target:g}x)" if target else ""),
                f"{model:.3f} ({r.spread(r.model_ms)})",
                f"{http - model:.3f}",
                f"{flops / (tutorial / 1e3) / 1e9 / peak32:.1%}",
                f"{flops / (http / 1e3) / 1e9 / peak32:.1%}",
                f"{flops / model / 1e6 / peak32:.1%} / {flops / model / 1e6 / peak64:.1%}",
                f"{r.max_abs_diff:.1e}",
            ]
        )
    out.table(
        [
            "horizon",
            "MFLOP",
            "tutorial loop ms (spread)",
            "/forecast HTTP ms (spread)",
            "tutorial / HTTP",
            "model alone ms",
            "HTTP + service ms",
            "tutorial % f32 peak",
            "/forecast % f32 peak",
            "model % f32 / f64 peak",
            "max abs diff",
        ],
        table,
    )
    out.line(
        "Medians of per-round medians; spread: the fastest and slowest round. Model alone: "
        "`Forecaster.forecast(horizon)` in the benchmark process (the compiled kernel, float64). "
        "HTTP + service: the difference, i.e. parsing, validation, the store snapshot, the "
        f"answer's JSON and the round trip. Max abs diff must be <= {AGREEMENT:g}."
    )
    return out.text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one round, few repeats")
    args = parser.parse_args(argv)
    rounds, repeats = (QUICK_ROUNDS, QUICK_REPEATS) if args.quick else (FULL_ROUNDS, FULL_REPEATS)
    torch.set_num_threads(1)
    start_load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="forecast-http-") as directory:
        workdir = Path(directory)
        store = prepare_store(workdir)
        forecaster, _ = load_checkpoint(store / "default" / "v000001.ckpt")
        env = {"FORECAST_TORCH_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        with serve(store, workdir, **env) as server:
            client = ForecastClient(server.url)
            rows = measure(forecaster, client, rounds, repeats)
    peak32, peak64 = peaks()
    end_load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(report(rows, peak32, peak64, (start_load, end_load)))
    worst = max(r.max_abs_diff for r in rows)
    if worst > AGREEMENT:
        print(f"FAILED: /forecast differs from the tutorial loop by {worst:.1e}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
