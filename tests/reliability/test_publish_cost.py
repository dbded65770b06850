"""What publishing a new version costs the serving process.

Parsing a checkpoint holds the GIL for milliseconds, and requests on the event loop wait for it:
that was the load bench's p99 while the served model retrains (docs/reliability.md). A training
is parsed once in the serving process, and no request parses the version being swapped in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import app.forecasting.checkpoint as checkpoint_module
import app.store as store_module
from app.api.deps import service_of
from app.forecasting import ModelConfig, TrainingConfig, fit, load_checkpoint
from app.forecasting.checkpoint import Checkpoint, checkpoint_bytes
from app.forecasting.metadata import VersionMetadata
from app.main import create_app
from app.store import ModelStore
from tests.conftest import wait_ready
from tests.reliability.conftest import tiny_settings, tiny_train_body


def counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the checkpoint parser to count its calls in this process; returns the counter."""
    calls: list[int] = []
    real_parse = checkpoint_module.parse_checkpoint

    def parse(data: bytes) -> object:
        calls.append(len(data))
        return real_parse(data)

    monkeypatch.setattr(checkpoint_module, "parse_checkpoint", parse)
    return calls


def test_a_training_is_parsed_once_and_serves_what_its_file_holds(
    rel_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(tiny_settings(rel_store))) as client:
        wait_ready(client)
        parses = counting_parses(monkeypatch)
        response = client.post("/train", json=tiny_train_body("small"))
        assert response.status_code == 200, response.text
        assert len(parses) == 1  # the worker's bytes, verified; the store reuses that parse
        monkeypatch.undo()

        served = service_of(client.app).store.get("small")
        on_disk, metadata = load_checkpoint(rel_store / "small" / "v000001.ckpt")
        assert served.metadata == metadata
        assert metadata is not None
        assert metadata.promotion is not None
        assert metadata.promotion.served_version == 1
        np.testing.assert_array_equal(served.forecaster.forecast(12), on_disk.forecast(12))
        forecast = client.post("/forecast", json={"model": "small", "horizon": 12})
        assert forecast.json()["forecast"] == on_disk.forecast(12).tolist()


def _version(version: int) -> Checkpoint:
    series = np.sin(np.arange(60) / 3)
    forecaster = fit(
        series,
        ModelConfig(window_size=6, hidden_size=3),
        TrainingConfig(max_epochs=1, seed=version),
        test_size=6,
    )
    return Checkpoint.parse(checkpoint_bytes(forecaster, VersionMetadata("m", version)))


def test_readers_keep_the_old_version_while_this_process_swaps_in_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between CURRENT's rename and the new snapshot's install, a reader sees a changed marker;
    it must keep the old snapshot instead of loading the new file itself."""
    store = ModelStore(tmp_path)
    store.publish("m", 1, _version(1))
    second = _version(2)
    real_write = store_module.write_atomic
    seen_by_reader: list[int] = []

    def write_then_read(path: Path, data: bytes) -> None:
        real_write(path, data)
        if path.name == "CURRENT":  # the new marker is on disk, not yet in memory
            seen_by_reader.append(store.get("m").version)

    monkeypatch.setattr(store_module, "write_atomic", write_then_read)
    parses = counting_parses(monkeypatch)
    store.publish("m", 2, second)
    assert seen_by_reader == [1]
    assert parses == []
    assert store.get("m").version == 2
    assert parses == []  # the marker it installed is the one on disk: nothing to reload
