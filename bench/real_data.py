"""The LSTM against naive baselines on real series, through the HTTP API.

    .venv/bin/python -m bench.real_data [--seeds 0 1 2] [--windows 3] [--out FILE]

For each series that ships inside statsmodels' datasets: POST /train on all but the last h
values (test_size h: the holdout of the promotion gate and of the interval calibration lies
inside those values), POST /forecast of h steps with level [80, 95], and score the forecast of
the h held-back values: MAE, sMAPE, MASE of the LSTM and of the naive and seasonal naive
forecasts, and the share of held-back values inside the 80% and 95% intervals. Every request goes
through the app (in process, with its training process pool); `window_size` and `season_length`
are left to `auto`, the training settings to their defaults. With several seeds, each score is
the median over seeds. Coverage is also measured over `--windows` consecutive windows of h
values at the end of each series (window k trains on everything before it), pooled over seeds:
one window of h values is a small, strongly correlated sample.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from app.forecasting.evaluation import mae, mase_scale, naive_forecast, seasonal_naive_forecast
from app.forecasting.evaluation import smape as smape_of
from app.main import create_app
from app.settings import Settings
from bench.report import Report


@dataclass(frozen=True)
class Dataset:
    name: str
    values: np.ndarray
    start: str
    freq: str
    season: int  # m of the seasonal naive baseline and of MASE's scale (1: none)
    horizon: int
    note: str


def load_datasets() -> list[Dataset]:
    """The real series of statsmodels' datasets (they ship with the package: no download)."""
    warnings.simplefilter("ignore")  # statsmodels' pandas deprecation chatter
    import statsmodels.api as sm

    sunspots = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(float)
    nile = sm.datasets.nile.load_pandas().data["volume"].to_numpy(float)
    co2_weekly = sm.datasets.co2.load_pandas().data["co2"]
    co2 = co2_weekly.resample("MS").mean().interpolate().to_numpy(float)
    elnino = sm.datasets.elnino.load_pandas().data.iloc[:, 1:].to_numpy(float).ravel()
    macro = sm.datasets.macrodata.load_pandas().data
    return [
        Dataset("sunspots", sunspots, "1700-01-01", "YS", 11, 31, "yearly, ~11-year cycle"),
        Dataset("nile", nile, "1871-01-01", "YS", 1, 10, "yearly flow, no season"),
        Dataset("co2", co2, "1958-03-01", "MS", 12, 12, "weekly resampled monthly, trend"),
        Dataset("elnino", elnino, "1950-01-01", "MS", 12, 12, "monthly sea temperature"),
        Dataset("unemp", macro["unemp"].to_numpy(float), "1959-01-01", "QS", 1, 20, "US rate"),
        Dataset("infl", macro["infl"].to_numpy(float), "1959-01-01", "QS", 1, 20, "US CPI %"),
    ]


@dataclass
class Run:
    scores: dict[str, float]
    covered: dict[int, np.ndarray]  # (h,) held-back values inside the interval, per level
    window: int
    season: int | None
    epochs: int
    seconds: float
    promoted: bool
    forecast: list[float] = field(default_factory=list)


def evaluate(client: TestClient, data: Dataset, seed: int, back: int = 0) -> Run:
    """Train on the values before the last (back + 1) * h, forecast the h after them."""
    end = len(data.values) - back * data.horizon
    train, actual = data.values[: end - data.horizon], data.values[end - data.horizon : end]
    name = f"{data.name}-{seed}-{back}"
    started = time.perf_counter()
    response = client.post(
        "/train",
        json={
            "model": name,
            "series": train.tolist(),
            "test_size": data.horizon,
            "start": data.start,
            "freq": data.freq,
            "seed": seed,
            "promote": "always",  # the benchmark scores every model, good or not
        },
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    trained = response.json()
    forecast_response = client.post(
        "/forecast", json={"model": name, "horizon": data.horizon, "level": [80, 95]}
    )
    forecast_response.raise_for_status()
    body = forecast_response.json()
    predicted = np.array(body["forecast"])
    scale = mase_scale(train, data.season)
    methods = {
        "lstm": predicted,
        "naive": naive_forecast(train, data.horizon),
        "snaive": seasonal_naive_forecast(train, data.horizon, data.season),
    }
    scores: dict[str, float] = {}
    for method, values in methods.items():
        error = mae(actual, values)
        scores[f"{method}_mae"] = error
        scores[f"{method}_smape"] = smape_of(actual, values)
        scores[f"{method}_mase"] = error / scale if scale else math.nan
    covered = {}
    for interval in body["intervals"]:
        inside = (np.array(interval["lower"]) <= actual) & (actual <= np.array(interval["upper"]))
        covered[round(interval["level"])] = inside
    return Run(
        scores=scores,
        covered=covered,
        window=trained["config"]["window_size"],
        season=trained["choices"]["season_length"]["value"],
        epochs=trained["training"]["epochs"],
        seconds=seconds,
        promoted=_passes_baselines(trained["metrics"]),
        forecast=predicted.tolist(),
    )


def _passes_baselines(metrics: dict[str, float | None]) -> bool:
    """Whether promote 'if_better' would have served it (rule 1 of app/forecasting/promotion)."""
    model = metrics["test_mae"]
    baselines = [metrics["naive_mae"], metrics["seasonal_naive_mae"]]
    return model is not None and all(b is None or model <= b for b in baselines)


def median(values: list[float]) -> float:
    return statistics.median(values)


def build_report(
    results: dict[str, dict[int, list[Run]]], datasets: list[Dataset], seeds: list[int]
) -> str:
    report = Report()
    report.title("The LSTM against naive baselines on real series")
    windows = len(next(iter(results.values())))
    report.line(
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; seeds {seeds}; accuracy on "
        f"the last h values (median over seeds), coverage over the last {windows} windows of h"
    )
    report.line("- command: `.venv/bin/python -m bench.real_data` (from the repository root)")
    report.line("")
    rows, coverage_rows = [], []
    wins = 0
    pooled: dict[int, list[np.ndarray]] = {80: [], 95: []}
    for data in datasets:
        runs = results[data.name][0]

        def score(key: str, runs: list[Run] = runs) -> float:
            return median([r.scores[key] for r in runs])

        lstm, snaive = score("lstm_mase"), score("snaive_mase")
        wins += lstm <= snaive
        rows.append(
            [
                data.name,
                str(len(data.values)),
                str(data.horizon),
                str(data.season),
                f"{runs[0].window} / {runs[0].season}",
                f"{score('lstm_mae'):.3g}",
                f"{score('naive_mae'):.3g}",
                f"{score('snaive_mae'):.3g}",
                f"{score('lstm_smape'):.1f}",
                f"{score('naive_smape'):.1f}",
                f"{score('snaive_smape'):.1f}",
                f"**{lstm:.2f}**" if lstm <= snaive else f"{lstm:.2f}",
                f"{score('naive_mase'):.2f}",
                f"{snaive:.2f}",
            ]
        )
        every = [run for runs_back in results[data.name].values() for run in runs_back]
        cells = []
        for level in (80, 95):
            hits = np.concatenate([r.covered[level] for r in every])
            pooled[level].append(hits)
            last = np.concatenate([r.covered[level] for r in runs])
            cells += [f"{100 * np.mean(last):.0f}%", f"{100 * np.mean(hits):.0f}%"]
        coverage_rows.append(
            [
                data.name,
                *cells,
                str(sum(len(r.covered[80]) for r in every)),
                f"{median([r.epochs for r in runs]):.0f}",
                f"{median([r.seconds for r in runs]):.1f}",
                f"{sum(r.promoted for r in runs)}/{len(runs)}",
            ]
        )
    report.section("Accuracy on the last h values (median over seeds)")
    report.table(
        [
            "series",
            "n",
            "h",
            "m",
            "window / season (auto)",
            "MAE lstm",
            "MAE naive",
            "MAE snaive",
            "sMAPE lstm",
            "sMAPE naive",
            "sMAPE snaive",
            "MASE lstm",
            "MASE naive",
            "MASE snaive",
        ],
        rows,
    )
    report.line(
        f"The LSTM's MASE is at or below the seasonal naive's (bold) on **{wins} of "
        f"{len(datasets)}** series. m is the season of the seasonal naive baseline and of MASE's "
        "scale (1: none, so seasonal naive = naive)."
    )
    report.section("Interval coverage, and training")
    report.table(
        [
            "series",
            "80%: last h",
            f"80%: last {windows} windows",
            "95%: last h",
            f"95%: last {windows} windows",
            "values scored",
            "epochs",
            "train s",
            "beat the holdout baselines",
        ],
        coverage_rows,
    )
    overall = {level: 100 * float(np.mean(np.concatenate(pooled[level]))) for level in pooled}
    report.line(
        f"Pooled over every series, window and seed: 80% intervals cover {overall[80]:.1f}%, 95% "
        f"intervals {overall[95]:.1f}% of the held-back values. The last two columns are about "
        "the last window's training: its epochs and seconds, and how many seeds' models beat "
        "both baselines on their holdout (what promote 'if_better' requires)."
    )
    return report.text()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="dataset names to run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    datasets = [d for d in load_datasets() if not args.only or d.name in args.only]
    results: dict[str, dict[int, list[Run]]] = {}
    with tempfile.TemporaryDirectory() as store:
        settings = Settings(model_store=Path(store), default_max_epochs=1, log_level="warning")
        with TestClient(create_app(settings)) as client:
            _wait_ready(client)
            for data in datasets:
                results[data.name] = {
                    back: [evaluate(client, data, seed, back) for seed in args.seeds]
                    for back in range(args.windows)
                }
                first = results[data.name][0][0]
                print(data.name, {k: round(v, 3) for k, v in first.scores.items()}, flush=True)
    text = build_report(results, datasets, args.seeds)
    print(text)
    if args.out:
        args.out.write_text(text)


def _wait_ready(client: TestClient, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not become ready")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
