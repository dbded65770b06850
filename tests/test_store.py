"""The model store on its own: versions on disk, the served marker, candidates, pruning,
rollback, deletion, the training lock and what startup does with a damaged directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.errors import ModelNotFoundError, TrainingInProgressError
from app.forecasting import CheckpointError, Forecaster, ModelConfig, TrainingConfig, fit
from app.forecasting.checkpoint import TEMP_PREFIX, Checkpoint, checkpoint_bytes
from app.forecasting.metadata import VersionMetadata
from app.store import CURRENT, ModelStore, checkpoint_name

SERIES = np.sin(np.arange(60, dtype=np.float64) / 3)


@pytest.fixture(scope="module")
def forecasters() -> list[Forecaster]:
    """Two small models whose forecasts differ (different seeds)."""
    config = ModelConfig(window_size=6, hidden_size=3)
    return [fit(SERIES, config, TrainingConfig(max_epochs=1, seed=s), test_size=6) for s in (1, 2)]


def version(forecasters: list[Forecaster], name: str, number: int, seed: int = 0) -> Checkpoint:
    forecaster = forecasters[seed]
    data = checkpoint_bytes(forecaster, VersionMetadata(name, number, "2026-01-01T00:00:00Z"))
    return Checkpoint.parse(data)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    store = ModelStore(tmp_path, keep_versions=2)
    store.load_all()
    return store


def test_a_published_version_is_served_and_survives_a_new_store(
    store: ModelStore, forecasters: list[Forecaster], tmp_path: Path
) -> None:
    with pytest.raises(ModelNotFoundError):
        store.get("m")
    assert store.next_version("m") == 1
    published = store.publish("m", 1, version(forecasters, "m", 1))
    assert (published.name, published.version, published.created_at) == (
        "m",
        1,
        "2026-01-01T00:00:00Z",
    )
    assert store.get("m") is published
    assert (tmp_path / "m" / CURRENT).read_text() == "1\n"
    assert store.names() == ["m"]
    assert store.served_version("m") == 1
    assert store.next_version("m") == 2

    reopened = ModelStore(tmp_path)
    assert reopened.load_all() == ["m"]
    again = reopened.get("m")
    assert again.metadata == published.metadata
    np.testing.assert_array_equal(again.forecaster.forecast(4), published.forecaster.forecast(4))


def test_a_checkpoint_of_another_name_or_version_is_refused(
    store: ModelStore, forecasters: list[Forecaster], tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError, match="holds 'other' version 1, expected 'm' version 1"):
        store.publish("m", 1, version(forecasters, "other", 1))
    with pytest.raises(CheckpointError, match="expected 'm' version 2"):
        store.publish("m", 2, version(forecasters, "m", 1))
    assert not (tmp_path / "m").exists()


def test_a_candidate_is_kept_but_not_served(
    store: ModelStore, forecasters: list[Forecaster]
) -> None:
    store.publish("m", 1, version(forecasters, "m", 1))
    candidate = store.save_candidate("m", 2, version(forecasters, "m", 2, seed=1))
    assert store.get("m").version == 1
    assert store.versions("m") == [1, 2]
    assert store.served_version("m") == 1
    assert store.load_version("m", 2).metadata == candidate.metadata
    # Serving it is a rollback (or roll-forward): CURRENT moves, the snapshot swaps.
    store.serve("m", 2)
    assert store.get("m").version == 2
    assert store.served_version("m") == 2


def test_old_versions_are_pruned_but_never_the_served_one(
    store: ModelStore, forecasters: list[Forecaster], tmp_path: Path
) -> None:
    store.publish("m", 1, version(forecasters, "m", 1))
    for number in (2, 3, 4):
        store.save_candidate("m", number, version(forecasters, "m", number))
    # keep_versions=2: the two newest stay, and 1 because it is served; 2 went.
    assert store.versions("m") == [1, 3, 4]
    assert sorted(p.name for p in (tmp_path / "m").glob("*.ckpt")) == [
        checkpoint_name(1),
        checkpoint_name(3),
        checkpoint_name(4),
    ]
    store.publish("m", 5, version(forecasters, "m", 5))
    assert store.versions("m") == [4, 5]


def test_version_summaries_read_headers_and_mark_unreadable_files(
    store: ModelStore, forecasters: list[Forecaster], tmp_path: Path
) -> None:
    store.publish("m", 1, version(forecasters, "m", 1))
    store.save_candidate("m", 2, version(forecasters, "m", 2))
    (tmp_path / "m" / checkpoint_name(2)).write_bytes(b"garbage")
    (first, summary), (second, unreadable) = store.version_summaries("m")
    assert (first, second, unreadable) == (1, 2, None)
    assert summary is not None
    assert summary.config == ModelConfig(window_size=6, hidden_size=3)
    assert summary.metadata == VersionMetadata("m", 1, "2026-01-01T00:00:00Z")
    assert summary.evaluation is not None
    assert summary.evaluation.test_size == 6
    with pytest.raises(CheckpointError, match="not a forecaster checkpoint"):
        store.load_version("m", 2)


def test_delete_removes_the_model_and_is_refused_while_it_trains(
    store: ModelStore, forecasters: list[Forecaster], tmp_path: Path
) -> None:
    store.publish("m", 1, version(forecasters, "m", 1))
    with store.training_lock("m"):
        assert store.is_training("m")
        with pytest.raises(TrainingInProgressError):
            store.delete("m")
        with pytest.raises(TrainingInProgressError), store.training_lock("m"):
            pass
    assert not store.is_training("m")
    store.delete("m")
    assert not (tmp_path / "m").exists()
    assert store.find("m") is None
    assert store.names() == []
    with pytest.raises(ModelNotFoundError):
        store.delete("m")


def test_a_model_with_only_candidates_can_be_deleted(
    store: ModelStore, forecasters: list[Forecaster]
) -> None:
    store.save_candidate("m", 1, version(forecasters, "m", 1))
    assert store.find("m") is None
    assert store.versions("m") == [1]
    store.delete("m")
    assert store.versions("m") == []


def test_startup_serves_the_newest_loadable_version_and_cleans_up(
    forecasters: list[Forecaster], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = ModelStore(tmp_path)
    writer.publish("m", 1, version(forecasters, "m", 1))
    writer.publish("m", 2, version(forecasters, "m", 2, seed=1))
    (tmp_path / "m" / checkpoint_name(2)).write_bytes(b"truncated")  # CURRENT names it
    (tmp_path / "m" / f"{TEMP_PREFIX}abc").write_bytes(b"half a write")
    (tmp_path / "Not-A-Name").mkdir()
    store = ModelStore(tmp_path)
    assert store.load_all() == ["m"]
    assert store.get("m").version == 1  # the newest one that loads
    assert not list((tmp_path / "m").glob(f"{TEMP_PREFIX}*"))
    assert any("skipping unloadable checkpoint" in r.getMessage() for r in caplog.records)
    assert any("not a valid model name" in r.getMessage() for r in caplog.records)
    assert store.names() == ["m"]
