from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("the app did not become ready")


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose default model was trained by the app's own startup (a real, short run)."""
    root = tmp_path_factory.mktemp("seed-store")
    app = create_app(Settings(model_store=root, default_max_epochs=3))
    with TestClient(app) as client:
        wait_ready(client)
    return root


@pytest.fixture
def store_dir(tmp_path: Path, trained_store: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(trained_store, target)
    return target


@pytest.fixture
def settings(store_dir: Path) -> Settings:
    return Settings(model_store=store_dir, max_series_length=5000, max_horizon=2000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        wait_ready(test_client)
        yield test_client


def small_train_body(name: str = "small", **overrides: object) -> dict[str, object]:
    import math

    body: dict[str, object] = {
        "model": name,
        "series": [math.sin(i * 2 * math.pi / 12) + 0.01 * i for i in range(120)],
        "window_size": 12,
        "hidden_size": 8,
        "test_size": 12,
        "epochs": 2,
        "seed": 1,
        # Two epochs do not beat the seasonal naive baseline on this series; tests of the
        # mechanics serve every version (tests/api/test_quality.py tests the promotion gate).
        "promote": "always",
    }
    body.update(overrides)
    return body
