"""SIGKILL a real server while it writes a checkpoint; the restarted server serves every model
at its last complete version, loses no acknowledged training, and removes the temp files.

The kill must land inside a write: a poller watches the model's directory and kills the
server the moment a `.tmp-*` file appears; when the temp file is gone by the time the process
is dead (the write finished first), the attempt does not count and a new server is started.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.forecasting.checkpoint import parse_checkpoint
from tests.conftest import wait_server_ready
from tests.e2e.conftest import ROOT, free_port
from tests.reliability.conftest import copy_store, tiny_train_body

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

MAX_ATTEMPTS = 30  # servers started before giving up on landing a kill inside a write
CHURN = "churn"
SERIES = [math.sin(i / 5) + 0.001 * i for i in range(4000)]  # a ~100 kB checkpoint


@contextmanager
def server(store: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "FORECAST_MODEL_STORE": str(store), "FORECAST_LOG_LEVEL": "warning"}
    uvicorn = ["uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [sys.executable, "-m", *uvicorn, "--log-level", "warning", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_server_ready(process, base_url)
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def temp_files(store: Path) -> list[Path]:
    return sorted(store.rglob(".tmp-*"))


def retrain_forever(base_url: str, acknowledged: list[int], stop: threading.Event) -> None:
    """Train CHURN again and again; record the version of every 200 the client received."""
    seed = 0
    with httpx.Client(base_url=base_url, timeout=120) as client:
        while not stop.is_set():
            seed += 1
            body = tiny_train_body(CHURN, series=SERIES, epochs=1, batch_size=512, seed=seed)
            try:
                response = client.post("/train", json=body)
            except httpx.TransportError:
                return  # the server was killed
            if response.status_code == 200:
                acknowledged.append(response.json()["version"])


def kill_during_a_write(process: subprocess.Popen[bytes], directory: Path) -> bool:
    """Spin until a temp file appears in `directory`, SIGKILL, and tell if it survived."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with os.scandir(directory) as entries:
            if any(entry.name.startswith(".tmp-") for entry in entries):
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return bool(list(directory.glob(".tmp-*")))
    process.kill()
    process.wait()
    return False


def test_sigkill_during_a_checkpoint_write_loses_nothing(
    tmp_path: Path, trained_store: Path
) -> None:
    store = copy_store(trained_store, tmp_path / "store")
    acknowledged: list[int] = []
    landed_on: list[str] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with server(store) as (process, base_url):
            if attempt == 1:  # one model never retrained, and a first version of CHURN
                for body in (tiny_train_body("steady"), tiny_train_body(CHURN, series=SERIES)):
                    first = httpx.post(f"{base_url}/train", json=body, timeout=120)
                    assert first.status_code == 200, first.text
                acknowledged.append(first.json()["version"])
            stop = threading.Event()
            trainer = threading.Thread(target=retrain_forever, args=(base_url, acknowledged, stop))
            trainer.start()
            landed = kill_during_a_write(process, store / CHURN)
            stop.set()
            trainer.join(timeout=120)
        if landed:
            landed_on = [path.name for path in temp_files(store)]
            break
    else:
        pytest.fail(f"no kill landed inside a checkpoint write in {MAX_ATTEMPTS} attempts")

    assert landed_on, "a temp file was left by the killed write"
    served_on_disk = int((store / CHURN / "CURRENT").read_text())
    assert served_on_disk >= max(acknowledged), "an acknowledged training was lost"

    with server(store) as (_, base_url), httpx.Client(base_url=base_url, timeout=120) as http:
        assert temp_files(store) == [], "stale temp files were not removed at startup"
        models = {m["model"]: m["version"] for m in http.get("/models").json()["models"]}
        assert models["churn"] == served_on_disk
        assert models["steady"] == 1
        assert "default" in models
        for name, version in models.items():
            path = store / name / f"v{version:06d}.ckpt"
            _, metadata = parse_checkpoint(path.read_bytes())  # complete and verified
            assert metadata is not None
            assert metadata.version == version
            forecast = http.post("/forecast", json={"model": name, "horizon": 3})
            assert forecast.status_code == 200, forecast.text
        on_disk = max(int(p.stem[1:]) for p in (store / CHURN).glob("v*.ckpt"))
        again = http.post("/train", json=tiny_train_body(CHURN, seed=99))
        assert again.status_code == 200, again.text
        assert again.json()["version"] == on_disk + 1
    print(f"kill landed on attempt {attempt}, during the write of {landed_on}")
