"""Two stores (as two replicas would hold) on one directory: the disk is the source of truth."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from app.errors import TrainingInProgressError
from app.execution.local import LocalPool
from app.forecasting import ModelConfig, TrainingConfig, fit
from app.forecasting.checkpoint import Checkpoint, checkpoint_bytes
from app.forecasting.metadata import VersionMetadata, utc_now
from app.serving import ForecastService
from app.serving.default_model import DEFAULT_MODEL
from app.serving.specs import TrainingSpec
from app.settings import Settings
from app.store import ModelSnapshot, ModelStore

SERIES = np.sin(np.arange(80, dtype=np.float64) / 3)


@pytest.fixture(scope="module")
def checkpoints() -> list[Checkpoint]:
    """Three versions of model "m" (different seeds, so their forecasts differ)."""
    config = ModelConfig(window_size=8, hidden_size=4)
    result = []
    for version in (1, 2, 3):
        forecaster = fit(SERIES, config, TrainingConfig(max_epochs=1, seed=version), test_size=8)
        metadata = VersionMetadata("m", version, utc_now())
        result.append(Checkpoint.parse(checkpoint_bytes(forecaster, metadata)))
    return result


def test_a_publish_on_one_replica_is_served_by_the_other(
    tmp_path: Path, checkpoints: list[Checkpoint]
) -> None:
    writer, reader = ModelStore(tmp_path), ModelStore(tmp_path)
    writer.load_all()
    reader.load_all()
    writer.publish("m", 1, checkpoints[0])
    assert reader.get("m").version == 1
    writer.publish("m", 2, checkpoints[1])
    served = reader.get("m")
    assert served.version == 2
    assert served.forecaster.forecast(3).tolist() == writer.get("m").forecaster.forecast(3).tolist()
    assert reader.names() == ["m"]


def test_a_rollback_on_one_replica_is_served_by_the_other(
    tmp_path: Path, checkpoints: list[Checkpoint]
) -> None:
    writer, reader = ModelStore(tmp_path), ModelStore(tmp_path)
    for version, data in enumerate(checkpoints, start=1):
        writer.publish("m", version, data)
    assert reader.get("m").version == 3
    writer.serve("m", 1)  # the disk says 1 now: an older version must come back too
    assert reader.get("m").version == 1
    writer.serve("m", 2)
    assert reader.get("m").version == 2


def test_a_delete_on_one_replica_is_seen_by_the_other(
    tmp_path: Path, checkpoints: list[Checkpoint]
) -> None:
    writer, reader = ModelStore(tmp_path), ModelStore(tmp_path)
    writer.publish("m", 1, checkpoints[0])
    assert reader.find("m") is not None
    writer.delete("m")
    assert reader.find("m") is None
    assert reader.names() == []


def test_the_training_lock_excludes_other_stores_on_the_same_directory(tmp_path: Path) -> None:
    first, second = ModelStore(tmp_path), ModelStore(tmp_path)
    with first.training_lock("m"):
        with pytest.raises(TrainingInProgressError), second.training_lock("m"):
            pass
        with second.training_lock("other"):  # one lock per name
            pass
    with second.training_lock("m"):  # released with the first holder
        pass


def test_a_replica_that_loses_the_default_race_waits_for_the_winners_model(
    tmp_path: Path, trained_store: Path
) -> None:
    """Replicas starting on an empty shared volume: one trains `default`, the others wait."""
    loser = ForecastService(
        Settings(model_store=tmp_path), store=ModelStore(tmp_path), executor=LocalPool(1)
    )
    publish = loser.publishing.publish
    winner_store = ModelStore(tmp_path)
    default = trained_store / DEFAULT_MODEL
    version = int((default / "CURRENT").read_text())
    checkpoint = Checkpoint.parse((default / f"v{version:06d}.ckpt").read_bytes())

    async def race() -> int:
        refused = asyncio.Event()

        async def observed(spec: TrainingSpec) -> ModelSnapshot:
            try:
                return await publish(spec)
            except TrainingInProgressError:
                refused.set()  # the loser found the winner training
                raise

        loser.default._publish = observed
        with winner_store.training_lock(DEFAULT_MODEL):  # the winner is training
            waiting = asyncio.create_task(loser.default.ensure())
            await asyncio.wait_for(refused.wait(), timeout=30)
            assert not waiting.done()
            assert not loser.ready
            winner_store.publish(DEFAULT_MODEL, version, checkpoint)
        snapshot = await asyncio.wait_for(waiting, timeout=30)
        return snapshot.version

    assert asyncio.run(race()) == version
    assert loser.ready
    # The loser trained nothing: the winner's checkpoint is the only one.
    assert sorted(p.name for p in (tmp_path / DEFAULT_MODEL).glob("v*.ckpt")) == [
        f"v{version:06d}.ckpt"
    ]
