"""Load benchmark: requests/s and p50/p99 latency of /predict-next and /forecast (horizon 40)
next to /healthz (the framework's ceiling in the same app), idle and while the served model is
retrained in a loop. One uvicorn worker on loopback, driven by wrk; medians of 3 runs.

    apt-get install -y wrk                   # the load generator (Debian/Ubuntu)
    .venv/bin/python -m bench.load           # ~7 minutes; saved to bench/results/load-<date>.md
    .venv/bin/python -m bench.load --quick   # 1 run of 3 s each, not saved

Traffic goes to 127.0.0.1 only. wrk runs with one thread, so on a 2-core machine the server's
event loop has a core, and trainings (a separate process) and wrk share the other. The figure is
the ratio /predict-next / /healthz measured in the same runs, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.forecasting.checkpoint import load_checkpoint
from bench.load_server import ROOT, Server, prepare_store, serve
from bench.load_verify import Checker
from bench.load_wrk import Endpoint, Run, Summary, ensure_wrk, run_wrk

WINDOW = [round(math.sin(x * 2 * 3.1416 / 40), 6) for x in range(760, 800)]
HORIZON = 40
TRIVIAL = Endpoint("healthz", "GET", "/healthz")
PREDICT = Endpoint("predict-next", "POST", "/predict-next", {"window": WINDOW})
FORECAST = Endpoint("forecast", "POST", "/forecast", {"horizon": HORIZON})
CONCURRENCY = (1, 16)
TUTORIAL_SINE = [math.sin(x * 2 * 3.1416 / 40) for x in range(800)]


@dataclass
class Retrainer:
    """Retrains the served default model in a loop while resumed; records every outcome."""

    url: str
    epochs: int = 2
    versions: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _running: threading.Event = field(default_factory=threading.Event)
    _idle: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._idle.set()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def resume(self) -> None:
        """Train again and again; returns once a training is in flight or has finished."""
        done = len(self.versions) + len(self.failures)
        self._running.set()
        while self._idle.is_set() and len(self.versions) + len(self.failures) == done:
            time.sleep(0.01)

    def pause(self) -> None:
        """Start no new training and wait for the one in flight to finish."""
        self._running.clear()
        self._idle.wait()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join(timeout=600)

    def _loop(self) -> None:
        seed = 0
        with httpx.Client(base_url=self.url, timeout=600) as client:
            while True:
                self._running.wait()
                if self._stop.is_set():
                    return
                self._idle.clear()
                seed += 1
                body = {
                    "series": TUTORIAL_SINE,
                    "epochs": self.epochs,
                    "seed": seed,
                    "promote": "always",
                }
                response = client.post("/train", json=body)
                if response.status_code == 200:
                    self.versions.append(response.json()["version"])
                else:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                self._idle.set()


def model_cost(store: Path) -> tuple[float, float]:
    """Median ms of the served model alone (in this process, one thread): predict_next on
    WINDOW and forecast(HORIZON), the same calls the endpoints make."""
    forecaster = load_checkpoint(store / "default" / "v000001.ckpt")[0]
    timings: dict[str, list[float]] = {"predict": [], "forecast": []}
    for _ in range(200):
        started = time.perf_counter()
        forecaster.predict_next(WINDOW)
        timings["predict"].append(time.perf_counter() - started)
        started = time.perf_counter()
        forecaster.forecast(HORIZON)
        timings["forecast"].append(time.perf_counter() - started)
    return (
        statistics.median(timings["predict"]) * 1000,
        statistics.median(timings["forecast"]) * 1000,
    )


def measure(
    server: Server, retrainer: Retrainer, repeats: int, seconds: int, workdir: Path
) -> tuple[dict[tuple[str, int], list[Run]], dict[tuple[str, int], list[Run]]]:
    """Every endpoint at every concurrency, `repeats` times; each served-model endpoint run
    idle, then again while the model retrains. Interleaved, so drift in the machine's other
    load hits idle and training runs alike."""
    idle: dict[tuple[str, int], list[Run]] = {}
    busy: dict[tuple[str, int], list[Run]] = {}
    for _ in range(repeats):
        for connections in CONCURRENCY:
            for endpoint in (TRIVIAL, PREDICT, FORECAST):
                key = (endpoint.label, connections)
                idle.setdefault(key, []).append(
                    run_wrk(server.url, endpoint, connections, seconds, workdir)
                )
                if endpoint is TRIVIAL:
                    continue
                retrainer.resume()
                busy.setdefault(key, []).append(
                    run_wrk(server.url, endpoint, connections, seconds, workdir)
                )
                retrainer.pause()
    return idle, busy


def table(title: str, summaries: list[Summary]) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| endpoint | connections | requests/s | p50 ms | p99 ms | errors | requests |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summaries:
        lines.append(
            f"| {s.endpoint} | {s.connections} | {s.rps:,.0f} | {s.p50_ms:.2f} | "
            f"{s.p99_ms:.2f} | {s.errors} | {s.requests:,} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s each; not saved")
    parser.add_argument("--workdir", type=Path, help="keep the store and logs here")
    args = parser.parse_args()
    repeats, seconds = (1, 3) if args.quick else (3, 10)
    ensure_wrk()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = prepare_store(workdir)
    checker = Checker(store, "default", WINDOW, HORIZON)
    # Every version stays on disk so each response can be checked against its checkpoint.
    with serve(store, workdir, FORECAST_KEEP_VERSIONS="100000") as server:
        for endpoint in (TRIVIAL, PREDICT, FORECAST):  # warm-up: imports, caches, JIT paths
            run_wrk(server.url, endpoint, 16, 2, workdir)
        retrainer = Retrainer(server.url)
        retrainer.start()
        retrainer.resume()  # the first training also starts the training process
        retrainer.pause()
        idle, busy = measure(server, retrainer, repeats, seconds, workdir)
        retrainer.stop()
        rss_mib = server.rss_mib()
    for runs in [*idle.values(), *busy.values()]:
        for run in runs:
            if run.endpoint != TRIVIAL.label:
                checker.check(run.bodies)
    costs = model_cost(store)

    report = render(idle, busy, retrainer, checker, rss_mib, repeats, seconds, costs)
    print("\n".join(report))
    if not args.quick:
        out = ROOT / "bench" / "results" / f"load-{datetime.now(UTC):%Y-%m-%d}.md"
        out.write_text("\n".join(report) + "\n")
        print(f"\nsaved to {out.relative_to(ROOT)}")


def render(
    idle: dict[tuple[str, int], list[Run]],
    busy: dict[tuple[str, int], list[Run]],
    retrainer: Retrainer,
    checker: Checker,
    rss_mib: float,
    repeats: int,
    seconds: int,
    costs: tuple[float, float],
) -> list[str]:
    idle_s = {key: Summary.of(runs) for key, runs in idle.items()}
    busy_s = {key: Summary.of(runs) for key, runs in busy.items()}
    lines = [
        f"## Load: one uvicorn worker on loopback, wrk -t1, medians of {repeats} runs of "
        f"{seconds} s ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"{platform.python_version()})",
        "",
        *table("Idle", [idle_s[k] for k in sorted(idle_s, key=lambda k: (k[1], k[0]))]),
        *table(
            f"While the served model is retrained in a loop ({len(retrainer.versions)} "
            f"trainings of {retrainer.epochs} epochs published during the runs)",
            [busy_s[k] for k in sorted(busy_s, key=lambda k: (k[1], k[0]))],
        ),
        "### Figures",
        "",
        "| figure | connections | value | target |",
        "| --- | ---: | ---: | --- |",
    ]
    for connections in CONCURRENCY:
        ceiling = idle_s[TRIVIAL.label, connections].rps
        for endpoint in (PREDICT, FORECAST):
            ratio = idle_s[endpoint.label, connections].rps / ceiling
            target = ">= 0.7" if endpoint is PREDICT else "(reported)"
            lines.append(
                f"| {endpoint.label} / healthz req/s | {connections} | {ratio:.2f} | {target} |"
            )
    for connections in CONCURRENCY:
        for endpoint in (PREDICT, FORECAST):
            key = (endpoint.label, connections)
            factor = busy_s[key].p99_ms / idle_s[key].p99_ms
            lines.append(
                f"| {endpoint.label} p99 training / idle | {connections} | {factor:.2f} "
                f"({busy_s[key].p99_ms:.2f} / {idle_s[key].p99_ms:.2f} ms) | <= 3 |"
            )
    errors = sum(s.errors for s in [*idle_s.values(), *busy_s.values()])
    result = checker.result
    lines += [
        f"| errors (socket + non-200), all runs | all | {errors} | 0 |",
        f"| trainings that failed during the runs | - | {len(retrainer.failures)} | 0 |",
        f"| responses checked against their version's checkpoint | all | "
        f"{result.responses:,} ({len(result.versions)} versions) | all |",
        f"| responses inconsistent with their version | all | {len(result.mismatches)} | 0 |",
        f"| server RSS at the end | - | {rss_mib:.0f} MiB | - |",
        "",
        *decomposition(idle_s, costs),
    ]
    if retrainer.failures:
        lines += ["Training failures:", "", *[f"- {f}" for f in retrainer.failures[:10]], ""]
    if result.mismatches:
        lines += ["Mismatches:", "", *[f"- {m}" for m in result.mismatches[:10]], ""]
    return lines


def decomposition(idle: dict[tuple[str, int], Summary], costs: tuple[float, float]) -> list[str]:
    """Where the time of one request goes at 1 connection: the HTTP stack (/healthz), the
    model alone (measured in process), and the rest (body parsing, validation, response)."""
    stack_ms = 1000 / idle[TRIVIAL.label, 1].rps
    lines = [
        "### Where one request's time goes (1 connection)",
        "",
        "| endpoint | ms per request | HTTP stack (/healthz) | the model alone | the rest |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for endpoint, model_ms in ((PREDICT, costs[0]), (FORECAST, costs[1])):
        total = 1000 / idle[endpoint.label, 1].rps
        rest = total - stack_ms - model_ms
        lines.append(
            f"| {endpoint.label} | {total:.2f} | {stack_ms:.2f} | {model_ms:.2f} | {rest:.2f} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    main()
