"""Quick before/after check of /predict-next's two load figures, for trying one change.

    .venv/bin/python -m bench.load_pairs                 # 3 rounds of 5 s runs, ~2 minutes
    .venv/bin/python -m bench.load_pairs --rounds 5 --seconds 5 FORECAST_X=1  # server env

Each round, at 1 and 16 connections: /healthz, /predict-next idle, /predict-next while the
served model retrains in a loop (bench.load's Retrainer). Prints each round and the medians of
the ratio /predict-next / /healthz and of p99 retraining / idle. bench.load is the reference
(3 runs of 10 s, every endpoint, every answer checked); this is its fast subset for experiments
(docs/reliability.md#load).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.load import PREDICT, TRIVIAL, Retrainer
from bench.load_server import prepare_store, serve
from bench.load_wrk import run_wrk

CONNECTIONS = (1, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, help="reuse the trained store kept here")
    parser.add_argument("env", nargs="*", help="KEY=VALUE for the server's environment")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="load-pairs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = prepare_store(workdir)
    rows: dict[int, list[tuple[float, float, float]]] = {c: [] for c in CONNECTIONS}
    with serve(store, workdir, FORECAST_KEEP_VERSIONS="100000", **env) as server:
        for endpoint in (TRIVIAL, PREDICT):  # warm-up
            run_wrk(server.url, endpoint, 16, 2, workdir)
        retrainer = Retrainer(server.url)
        retrainer.start()
        retrainer.resume()  # the first training also starts the training process
        retrainer.pause()
        for _ in range(args.rounds):
            for connections in CONNECTIONS:
                ceiling = run_wrk(server.url, TRIVIAL, connections, args.seconds, workdir)
                idle = run_wrk(server.url, PREDICT, connections, args.seconds, workdir)
                retrainer.resume()
                busy = run_wrk(server.url, PREDICT, connections, args.seconds, workdir)
                retrainer.pause()
                ratio = idle.rps / ceiling.rps
                rows[connections].append((ratio, idle.p99_ms, busy.p99_ms))
                errors = sum(idle.errors.values()) + sum(busy.errors.values())
                print(
                    f"{connections:>2} connections: ratio {ratio:.3f}, p99 idle "
                    f"{idle.p99_ms:.2f} ms, retraining {busy.p99_ms:.2f} ms "
                    f"({busy.p99_ms / idle.p99_ms:.2f}x), errors {errors}",
                    flush=True,
                )
        retrainer.stop()
    for connections, values in rows.items():
        ratio = statistics.median(v[0] for v in values)
        idle_p99 = statistics.median(v[1] for v in values)
        busy_p99 = statistics.median(v[2] for v in values)
        print(
            f"median, {connections} connections: ratio {ratio:.3f}; p99 idle {idle_p99:.2f} ms, "
            f"retraining {busy_p99:.2f} ms, factor {busy_p99 / idle_p99:.2f}; trainings "
            f"{len(retrainer.versions)}, failed {len(retrainer.failures)}"
        )


if __name__ == "__main__":
    main()
