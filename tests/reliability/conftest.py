from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from app.settings import Settings

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def copy_store(trained_store: Path, target: Path) -> Path:
    shutil.copytree(trained_store, target)
    return target


def tiny_settings(store: Path, **overrides: object) -> Settings:
    """Settings that keep every training tiny: few epochs, short series, a short time budget."""
    values: dict[str, object] = {
        "model_store": store,
        "max_series_length": 400,
        "max_horizon": 200,
        "max_epochs": 3,
        "max_training_seconds": 3.0,
        "max_concurrent_trainings": 1,
        "keep_versions": 2,
        "max_body_bytes": 64 * 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def rel_store(tmp_path: Path, trained_store: Path) -> Path:
    return copy_store(trained_store, tmp_path / "store")


def train_body(name: str = "small", **overrides: object) -> dict[str, object]:
    """A tiny training (window 8, hidden 4, 2 epochs) that is always published."""
    body: dict[str, object] = {
        "model": name,
        "series": [math.sin(i * 2 * math.pi / 12) + 0.01 * i for i in range(96)],
        "window_size": 8,
        "hidden_size": 4,
        "test_size": 8,
        "epochs": 2,
        "seed": 1,
        "promote": "always",
    }
    body.update(overrides)
    return body


def store_fingerprint(store: Path) -> list[tuple[str, int, int]]:
    """Every file of the store (lock files aside) with its size and modification time."""
    return sorted(
        (str(path.relative_to(store)), path.stat().st_size, path.stat().st_mtime_ns)
        for path in store.rglob("*")
        if path.is_file() and ".locks" not in path.parts
    )
