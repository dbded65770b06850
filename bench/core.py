"""Core benchmark: our training and forecasting vs a faithful re-implementation of the tutorial.

Run from the repository root (one torch thread; a full run takes a few minutes):

    .venv/bin/python -m bench.core            # full run, also saved to bench/results/core-<date>.md
    .venv/bin/python -m bench.core --quick    # smoke run: one seed, fewer repeats, not saved

Prints markdown. Absolute times on shared machines vary 1.5-3x from run to run; the ratios
between methods measured within one run (calls interleaved) are what the figures stand for.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from bench import flops, forecast_speed
from bench.core_forecast import forecasting, measure_forecasts
from bench.core_training import (
    default_training,
    flop_count,
    reproduction,
    time_to_target,
    training_rate,
)
from bench.forecast_speed import Latency
from bench.report import Report, fmt_mse, fmt_ratio, fmt_s, verdict
from bench.settings import FULL, QUICK, THREAD_LABELS, Settings, log

ROOT = Path(__file__).resolve().parent.parent


def machine_lines(command: str) -> list[str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- command: `{command}` (from the repository root)",
        f"- code: {code_version()}",
        f"- machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, numpy {np.__version__}; torch.set_num_threads(1); "
        f"load average at start {load}",
        "- timings on this shared machine are noisy (1.5-3x between runs); ratios measured "
        "within one run, with the two methods' calls interleaved, are what count",
    ]


def code_version() -> str:
    """The commit, and whether the measured package differs from it (others edit the tree)."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.rstrip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = git("status", "--porcelain", "--", "app/forecasting")
    if not changed:
        return f"commit {commit}, app/forecasting as committed"
    files = ", ".join(line[3:] for line in changed.splitlines())
    return f"commit {commit}, with uncommitted changes in: {files}"


def measure_peak(settings: Settings) -> dict[str, dict[int, float]]:
    """GFLOP/s by library and size: torch (1 thread), numpy with 1 and with default BLAS threads."""
    log("matmul peak")
    sizes, repeats = settings.peak_sizes, settings.peak_repeats
    return {
        "torch, 1 thread": {s: flops.torch_matmul_gflops(s, repeats) for s in sizes},
        "numpy, 1 BLAS thread": flops.numpy_single_thread_gflops(list(sizes), repeats),
        "numpy, default BLAS threads": {s: flops.numpy_matmul_gflops(s, repeats) for s in sizes},
    }


def report_peak(report: Report, runs: list[dict[str, dict[int, float]]]) -> float:
    """The table of both measurements (start and end of the run); returns the peak in FLOP/s."""
    single = ("torch, 1 thread", "numpy, 1 BLAS thread")
    peak = max(max(run[name].values()) for run in runs for name in single)
    report.section("Matmul peak (float32 square matmul, GFLOP/s, median of repeats)")
    rows = []
    for when, run in zip(("start", "end"), runs, strict=False):
        for size in run["torch, 1 thread"]:
            rows.append([when, f"{size}x{size}", *(f"{run[name][size]:.1f}" for name in run)])
    report.table(["measured at", "size", *runs[0]], rows)
    report.line(
        f"Peak used below: **{peak:.1f} GFLOP/s**, the best single-thread rate of the run "
        "(measured at its start and end). The benchmark pins torch to one thread but leaves "
        "numpy's BLAS threads alone, as the service does; numpy's 1-thread rate is measured in a "
        "child process with OPENBLAS_NUM_THREADS=1."
    )
    return peak * 1e9


def targets(
    report: Report,
    target: dict[str, float],
    default: dict[str, float],
    latencies: dict[str, list[Latency]],
) -> None:
    rows = [
        [
            "time to 0.0089: tutorial / ours",
            ">= 20x",
            f"{fmt_ratio(target['ratio'])} (default schedule: {fmt_ratio(target['prefix_ratio'])})",
            verdict(target["ratio"] >= 20),
        ],
        [
            "default training holdout MSE",
            "<= 1e-4",
            f"{fmt_mse(default['test_mse'])} (worst seed {fmt_mse(default['worst_mse'])})",
            verdict(default["worst_mse"] <= 1e-4),
        ],
        [
            "... in seconds: fit phase",
            "<= 2 s",
            fmt_s(default["fit_seconds"]),
            verdict(default["fit_seconds"] <= 2),
        ],
        [
            "... in seconds: fit + refit",
            "<= 2 s",
            fmt_s(default["training_seconds"]),
            verdict(default["training_seconds"] <= 2),
        ],
    ]
    goals = {(1, 40): 3, (1, 200): 5, (1, 1000): 5}
    for threads, results in latencies.items():
        for r in results:
            goal = goals.get((r.series, r.horizon), 8 if r.series > 1 else None)
            if goal is None:
                continue
            agree = r.max_abs_diff <= forecast_speed.AGREEMENT
            rows.append(
                [
                    f"{r.label}, {r.series} series, H={r.horizon}, {THREAD_LABELS[threads]}: "
                    "tutorial / ours",
                    f">= {goal}x",
                    fmt_ratio(r.ratio) + ("" if agree else " (forecasts disagree!)"),
                    verdict(r.ratio >= goal and agree),
                ]
            )
    report.section("Targets")
    report.table(["figure", "target", "measured", ""], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one seed, few repeats")
    parser.add_argument("--output", type=Path, help="also write the report here")
    parser.add_argument(
        "--no-save", action="store_true", help="do not write bench/results/core-<date>.md"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    settings = QUICK if args.quick else FULL
    command = ".venv/bin/python -m bench.core" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    started = time.perf_counter()

    report = Report()
    report.title(f"Core benchmark{' (quick)' if args.quick else ''}")
    for line in machine_lines(command):
        report.line(line)
    report.line("")
    peak_block = report.block()  # filled at the end: the peak is measured at start and end
    peaks = [measure_peak(settings)]
    flop_count(report)
    reproduction(report, settings)
    target = time_to_target(report, settings)
    default, forecaster = default_training(report, settings)
    latencies = measure_forecasts(settings, forecaster)
    peaks.append(measure_peak(settings))
    peak = report_peak(peak_block, peaks)
    training_rate(report, target, default, peak)
    forecasting(report, settings, latencies, peak)
    targets(report, target, default, latencies)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report.line(f"Run time {time.perf_counter() - started:.0f} s; load average at end {load}.")

    text = report.text()
    print(text)
    outputs = [args.output] if args.output else []
    if not args.quick and not args.no_save:
        outputs.append(Path(__file__).parent / "results" / f"core-{datetime.now(UTC):%Y-%m-%d}.md")
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
