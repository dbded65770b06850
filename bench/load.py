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
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

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
    """Retrains the served default model in a loop until stopped; records every outcome."""

    url: str
    epochs: int = 2
    versions: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=600)

    def _loop(self) -> None:
        seed = 0
        with httpx.Client(base_url=self.url, timeout=600) as client:
            while not self._stop.is_set():
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


def measure(
    server: Server, endpoints: list[Endpoint], repeats: int, seconds: int, workdir: Path
) -> dict[tuple[str, int], list[Run]]:
    """Every endpoint at every concurrency, `repeats` times, interleaved so drift hits all."""
    runs: dict[tuple[str, int], list[Run]] = {}
    for _ in range(repeats):
        for connections in CONCURRENCY:
            for endpoint in endpoints:
                run = run_wrk(server.url, endpoint, connections, seconds, workdir)
                runs.setdefault((endpoint.label, connections), []).append(run)
    return runs


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
        idle = measure(server, [TRIVIAL, PREDICT, FORECAST], repeats, seconds, workdir)
        retrainer = Retrainer(server.url)
        retrainer.start()
        started = time.monotonic()
        while not retrainer.versions and time.monotonic() - started < 300:
            time.sleep(0.1)  # the first training also starts the training process
        busy = measure(server, [PREDICT, FORECAST], repeats, seconds, workdir)
        retrainer.stop()
        rss_mib = server.rss_mib()
    for runs in [*idle.values(), *busy.values()]:
        for run in runs:
            if run.endpoint != TRIVIAL.label:
                checker.check(run.bodies)

    report = render(idle, busy, retrainer, checker, rss_mib, repeats, seconds)
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
    ]
    if retrainer.failures:
        lines += ["Training failures:", "", *[f"- {f}" for f in retrainer.failures[:10]], ""]
    if result.mismatches:
        lines += ["Mismatches:", "", *[f"- {m}" for m in result.mismatches[:10]], ""]
    return lines


if __name__ == "__main__":
    main()
