"""Soak: 5 minutes of steady load on one uvicorn worker; the server's RSS at start and end.

    apt-get install -y wrk
    .venv/bin/python -m bench.soak                 # 5 min + warm-up; bench/results/soak-<date>.md
    .venv/bin/python -m bench.soak --minutes 1     # shorter, not saved

The load cycles through /predict-next, /forecast (horizon 40), /models/default, a refused
/predict-next (422), an unknown model (404) and /metrics, over 4 connections; the served
model is retrained every 30 s, so old versions must be freed too. RSS is sampled every 10 s;
"start" is taken after a 30 s warm-up at the same load (imports, caches and allocator pools
fill during it). Target: growth from start to end <= 10%.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.load_server import ROOT, prepare_store, serve
from bench.load_wrk import Endpoint, parse, wrk_command

WINDOW = [round(math.sin(x * 2 * 3.1416 / 40), 6) for x in range(760, 800)]
MIX = [
    Endpoint("predict-next", "POST", "/predict-next", {"window": WINDOW}),
    Endpoint("forecast", "POST", "/forecast", {"horizon": 40}),
    Endpoint("model", "GET", "/models/default"),
    Endpoint("refused", "POST", "/predict-next", {"window": WINDOW[:39]}),
    Endpoint("unknown", "GET", "/models/no-such-model"),
    Endpoint("metrics", "GET", "/metrics"),
]
EXPECTED_REFUSALS = {"status_422", "status_404"}  # what the mix asks for on purpose
WARMUP_SECONDS = 30
SAMPLE_SECONDS = 10
RETRAIN_SECONDS = 30
CONNECTIONS = 4


def retrain_periodically(url: str, stop: threading.Event, outcomes: list[int]) -> None:
    body = {
        "series": [math.sin(x * 2 * 3.1416 / 40) for x in range(800)],
        "epochs": 2,
        "promote": "always",
    }
    with httpx.Client(base_url=url, timeout=600) as client:
        while not stop.wait(RETRAIN_SECONDS):
            outcomes.append(client.post("/train", json=body).status_code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = prepare_store(workdir)
    seconds = int(WARMUP_SECONDS + args.minutes * 60)
    samples: list[tuple[float, float]] = []
    trainings: list[int] = []
    with serve(store, workdir) as server:
        before_load = server.rss_mib()
        command, out = wrk_command(
            server.url, MIX, CONNECTIONS, seconds, workdir, "soak", record_bodies=False
        )
        stop = threading.Event()
        retrainer = threading.Thread(
            target=retrain_periodically, args=(server.url, stop, trainings), daemon=True
        )
        started = time.monotonic()
        wrk = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        retrainer.start()
        while wrk.poll() is None:
            samples.append((time.monotonic() - started, server.rss_mib()))
            time.sleep(SAMPLE_SECONDS)
        stop.set()
        retrainer.join(timeout=600)
        after = server.rss_mib()
    run = parse(out, "soak", CONNECTIONS)
    start = next(rss for t, rss in samples if t >= WARMUP_SECONDS)
    end = samples[-1][1]
    growth = (end - start) / start
    unexpected = {k: v for k, v in run.errors.items() if k not in EXPECTED_REFUSALS}
    report = [
        f"## Soak: {args.minutes:g} min at steady load ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"wrk -t1 -c{CONNECTIONS}, {len(MIX)} requests in rotation "
        f"({', '.join(e.label for e in MIX)}); the served model retrained every "
        f"{RETRAIN_SECONDS} s; RSS of the server process every {SAMPLE_SECONDS} s.",
        "",
        "| figure | value | target |",
        "| --- | ---: | --- |",
        f"| requests | {run.requests:,} ({run.rps:,.0f}/s) | - |",
        f"| p50 / p99 latency | {run.p50_ms:.2f} / {run.p99_ms:.2f} ms | - |",
        f"| refusals asked for (422, 404) | "
        f"{sum(v for k, v in run.errors.items() if k in EXPECTED_REFUSALS):,} | - |",
        f"| unexpected errors | {sum(unexpected.values())} {unexpected or ''} | 0 |",
        f"| trainings published / attempted | {trainings.count(200)} / {len(trainings)} | all |",
        f"| RSS before load | {before_load:.1f} MiB | - |",
        f"| RSS at start (after {WARMUP_SECONDS} s warm-up) | {start:.1f} MiB | - |",
        f"| RSS at end | {end:.1f} MiB | - |",
        f"| growth start -> end | {growth:+.1%} | <= 10% |",
        f"| RSS after the load stopped | {after:.1f} MiB | - |",
        "",
        "RSS samples (s, MiB): " + ", ".join(f"{t:.0f}: {rss:.1f}" for t, rss in samples),
        "",
    ]
    print("\n".join(report))
    if args.minutes >= 5:
        path = ROOT / "bench" / "results" / f"soak-{datetime.now(UTC):%Y-%m-%d}.md"
        path.write_text("\n".join(report) + "\n")
        print(f"saved to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
