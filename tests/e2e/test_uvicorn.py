"""One real server process, over real HTTP."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import running_server

pytestmark = pytest.mark.e2e


def test_real_uvicorn_process_serves_the_api(tmp_path: Path, trained_store: Path) -> None:
    import shutil

    store = tmp_path / "store"
    shutil.copytree(trained_store, store)
    with running_server(store) as base_url, httpx.Client(base_url=base_url, timeout=60) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        body = {
            "model": "e2e",
            "series": [math.sin(i / 2) for i in range(100)],
            "window_size": 10,
            "test_size": 10,
            "epochs": 2,
            "promote": "always",  # two epochs need not beat the baselines: serve it anyway
        }
        trained = http.post("/train", json=body)
        assert trained.status_code == 200, trained.text
        forecast = http.post("/forecast", json={"model": "e2e", "horizon": 4}).json()
        assert forecast["version"] == 1
        assert len(forecast["forecast"]) == 4
        assert http.get("/docs").status_code == 200
        assert http.get("/nowhere").status_code == 404
    assert (store / "e2e" / "v000001.ckpt").exists()
