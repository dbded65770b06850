"""What the per-request check of the store's CURRENT marker costs (multi-replica serving).

Every `ModelStore.get` stats `<root>/<name>/CURRENT` and compares (inode, mtime, size) with what
it last loaded, so a version published by another replica is served on the next request. This
measures that check against the same lookup without it, against the model call a request
makes anyway, and against a whole /predict-next request in-process (ASGI, no sockets); and what
a replica pays once when another one has published (reading and verifying the checkpoint).

    .venv/bin/python -m bench.replica_marker [--store DIR] [--repeat 7] [--number 20000]

`--store` puts the store on another filesystem (an NFS or CephFS mount, say) to measure there.
Prints medians of `repeat` runs, in microseconds per call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from app.forecasting import Forecaster, ModelConfig, TrainingConfig, fit
from app.forecasting.checkpoint import checkpoint_bytes
from app.forecasting.metadata import VersionMetadata, utc_now
from app.main import create_app
from app.settings import Settings
from app.store import CURRENT, ModelStore


def per_call_us(function: Callable[[], object], repeat: int, number: int) -> float:
    runs = timeit.repeat(function, repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e6


def tutorial_forecaster() -> Forecaster:
    """The default model's shape (LSTM, window 40, hidden 50), briefly trained."""
    series = np.sin(np.arange(800, dtype=np.float64) * 2 * 3.1416 / 40)
    return fit(series, ModelConfig(), TrainingConfig(max_epochs=1, seed=0), test_size=40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="directory to create the store in")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.store) as directory:
        root = Path(directory)
        store = ModelStore(root)
        forecaster = tutorial_forecaster()

        def checkpoint(version: int) -> bytes:
            return checkpoint_bytes(forecaster, VersionMetadata("m", version, utc_now()))

        store.publish("m", 1, checkpoint(1))
        marker = root / "m" / CURRENT
        snapshot = store.get("m")
        window = snapshot.forecaster.series[-snapshot.forecaster.window_size :].tolist()
        n, r = args.number, args.repeat

        def lookup_without_check() -> object:
            with store._guard:
                return store._snapshots["m"]

        results = {
            "os.stat(CURRENT)": per_call_us(lambda: marker.stat(), r, n),
            "ModelStore.get, marker unchanged": per_call_us(lambda: store.get("m"), r, n),
            "the same lookup without the check": per_call_us(lookup_without_check, r, n),
            "Forecaster.predict_next (window 40)": per_call_us(
                lambda: snapshot.forecaster.predict_next(window), r, n // 10
            ),
        }

        # Another replica publishes: the next get reads and verifies the new checkpoint once.
        writer, reloads = ModelStore(root), []
        for version in range(2, 2 + r):
            writer.publish("m", version, checkpoint(version))
            started = time.perf_counter()
            assert store.get("m").version == version
            reloads.append((time.perf_counter() - started) * 1e6)
        results["get after another replica published (once)"] = statistics.median(reloads)

        settings = Settings(model_store=root, default_max_epochs=1, log_level="warning")
        with TestClient(create_app(settings)) as client:
            body = {"model": "m", "window": window}
            while client.get("/readyz").status_code != 200:
                time.sleep(0.1)
            results["POST /predict-next in-process (ASGI)"] = per_call_us(
                lambda: client.post("/predict-next", json=body), r, max(50, n // 100)
            )

    width = max(len(label) for label in results)
    print(f"store: {root.parent} ({args.repeat} runs, medians)")
    for label, micros in results.items():
        print(f"{label:<{width}}  {micros:10.2f} us")
    check = (
        results["ModelStore.get, marker unchanged"] - results["the same lookup without the check"]
    )
    print(f"{'per-request cost of the check':<{width}}  {check:10.2f} us")
    request = results["POST /predict-next in-process (ASGI)"]
    print(f"{'share of one /predict-next request':<{width}}  {check / request:10.2%}")


if __name__ == "__main__":
    main()
