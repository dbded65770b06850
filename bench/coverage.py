"""Coverage of the split-conformal intervals on the tutorial's sine with added noise.

    .venv/bin/python -m bench.coverage [--seeds 0 1 2 3 4] [--noise 0.05 0.1 0.2]

For each noise level and seed: the tutorial's sine (sin(x * 2 * 3.1416 / 40)) plus Gaussian noise
of that standard deviation, 800 values to train on and 40 more held back. `fit` with the service's
defaults (the tutorial's LSTM, test_size 40) calibrates the intervals on values the selected model
never trained on; the refit model then forecasts the 40 held-back values. The table reports the
share of them inside the 80% and 95% intervals, pooled over seeds (40 x seeds points per cell),
and the mean interval width relative to the noise (a perfect forecast of the sine would need
2 x 1.28 sigma at 80% and 2 x 1.96 sigma at 95%).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from app.forecasting import ModelConfig, TrainingConfig, fit
from app.forecasting.intervals import calibrate_residuals
from bench.report import Report

LEVELS = (80, 95)
TRAIN, HELD_BACK = 800, 40


@dataclass(frozen=True)
class Outcome:
    covered: dict[int, np.ndarray]  # (HELD_BACK,) booleans per level
    width: dict[int, float]  # mean full width per level
    test_mse: float
    seconds: float


def noisy_sine(noise: float, seed: int) -> np.ndarray:
    x = np.arange(TRAIN + HELD_BACK, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return np.sin(x * 2 * 3.1416 / 40) + noise * rng.standard_normal(len(x))


def run(noise: float, seed: int) -> Outcome:
    series = noisy_sine(noise, seed)
    train, actual = series[:TRAIN], series[TRAIN:]
    started = time.perf_counter()
    forecaster = fit(train, ModelConfig(), TrainingConfig(seed=seed), test_size=40)
    seconds = time.perf_counter() - started
    assert forecaster.intervals is not None
    forecast = forecaster.forecast(HELD_BACK)
    covered, width = {}, {}
    for interval in forecaster.intervals.intervals(forecast, LEVELS):
        level = round(interval.level)
        covered[level] = (interval.lower <= actual) & (actual <= interval.upper)
        width[level] = float(np.mean(interval.upper - interval.lower))
    assert forecaster.evaluation is not None
    return Outcome(covered, width, forecaster.evaluation.test_mse or 0.0, seconds)


def calibration_cost(repeats: int = 5) -> tuple[float, float, tuple[int, int]]:
    """(median seconds of the calibration forecast, seconds of the training it follows, table
    shape) for the default model on the tutorial's sine: what calibration adds to a /train."""
    series = noisy_sine(0.0, 0)[:TRAIN]
    forecaster = fit(series, ModelConfig(), TrainingConfig(seed=0), test_size=40)
    first_unseen = forecaster.window_size + forecaster.training.train_windows

    def forecast_windows(windows: np.ndarray, horizon: int) -> np.ndarray:
        return forecaster.forecast_many(list(windows), horizon)

    times = []
    residuals = None
    for _ in range(repeats):
        started = time.perf_counter()
        residuals = calibrate_residuals(
            series,
            forecaster.window_size,
            first_unseen=first_unseen,
            horizon_cap=40,
            forecast_windows=forecast_windows,
        )
        times.append(time.perf_counter() - started)
    assert residuals is not None
    shape = (residuals.n_origins, residuals.calibration_horizon)
    return statistics.median(times), forecaster.training.seconds, shape


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report = Report()
    report.title("Interval coverage on the tutorial's sine with noise")
    report.line(
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; seeds {args.seeds}; "
        f"{HELD_BACK} held-back values per run"
    )
    report.line("- command: `.venv/bin/python -m bench.coverage` (from the repository root)")
    report.line("")
    rows = []
    pooled: dict[int, list[np.ndarray]] = {level: [] for level in LEVELS}
    for noise in args.noise:
        outcomes = [run(noise, seed) for seed in args.seeds]
        row = [f"{noise:g}"]
        for level in LEVELS:
            hits = np.concatenate([o.covered[level] for o in outcomes])
            pooled[level].append(hits)
            per_seed = [100 * float(np.mean(o.covered[level])) for o in outcomes]
            row.append(f"{100 * np.mean(hits):.1f}% ({min(per_seed):.0f}-{max(per_seed):.0f}%)")
        for level in LEVELS:
            width = statistics.mean(o.width[level] for o in outcomes)
            row.append(f"{width / noise:.2f}")
        row.append(f"{statistics.median(o.test_mse for o in outcomes):.2e}")
        row.append(f"{statistics.median(o.seconds for o in outcomes):.1f}")
        rows.append(row)
        print(row, flush=True)
    report.table(
        [
            "noise sigma",
            "80% covered (seed range)",
            "95% covered (seed range)",
            "80% width / sigma",
            "95% width / sigma",
            "holdout MSE (median)",
            "fit s (median)",
        ],
        rows,
    )
    overall = {level: 100 * float(np.mean(np.concatenate(pooled[level]))) for level in LEVELS}
    report.line(
        f"Pooled over every noise level and seed: 80% intervals cover {overall[80]:.1f}%, "
        f"95% intervals {overall[95]:.1f}% (target: within 5 points of nominal). An ideal "
        "forecast's 80% and 95% widths would be 2.56 and 3.92 sigma."
    )
    seconds, training, shape = calibration_cost()
    report.line("")
    report.line(
        f"Calibration cost (default model, tutorial sine): one batched forecast of the {shape[0]} "
        f"origins x {shape[1]} steps error table takes {seconds:.3f} s (median of 5), next to "
        f"{training:.2f} s of training ({100 * seconds / training:.0f}%)."
    )
    text = report.text()
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
