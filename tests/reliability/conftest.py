from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from tests.conftest import train_body

API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def copy_store(trained_store: Path, target: Path) -> Path:
    shutil.copytree(trained_store, target)
    return target


def tiny_settings(store: Path, **overrides: Any) -> Settings:
    """Settings that keep every training tiny: few epochs, short series, a short time budget."""
    values: dict[str, Any] = {
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
    return Settings(**values)


@pytest.fixture
def rel_store(tmp_path: Path, trained_store: Path) -> Path:
    return copy_store(trained_store, tmp_path / "store")


# Smaller than tests.conftest.train_body's default: window 8, hidden 4, 96 values.
TINY: dict[str, Any] = {"length": 96, "window_size": 8, "hidden_size": 4, "test_size": 8}


def tiny_train_body(name: str = "small", **overrides: Any) -> dict[str, Any]:
    """A tiny training that is always published (tests.conftest.train_body, made smaller)."""
    return train_body(name, **{**TINY, **overrides})


def store_fingerprint(store: Path) -> list[tuple[str, int, int]]:
    """Every file of the store (lock files aside) with its size and modification time."""
    return sorted(
        (str(path.relative_to(store)), path.stat().st_size, path.stat().st_mtime_ns)
        for path in store.rglob("*")
        if path.is_file() and ".locks" not in path.parts
    )
