"""The worker side of progress and cancellation (app/execution/worker.py), run in this process."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.execution import worker
from app.execution.hooks import WorkerHooks
from app.execution.worker import TrainingPlan, train_in_worker
from app.forecasting import ModelConfig, TrainingCancelledError, TrainingConfig
from app.forecasting.checkpoint import parse_checkpoint
from app.forecasting.metadata import VersionMetadata


class Sink:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put(self, item: dict[str, Any]) -> None:
        self.items.append(item)


class Flag:
    def __init__(self, set_after: int | None = None) -> None:
        self.polls = 0
        self.set_after = set_after

    def is_set(self) -> bool:
        self.polls += 1
        return self.set_after is not None and self.polls > self.set_after


def plan(epochs: int) -> TrainingPlan:
    series = np.sin(np.arange(200) * 0.4) + 0.01 * np.arange(200)
    return TrainingPlan(
        series=series,
        model_config=ModelConfig(window_size=8, hidden_size=4),
        training=TrainingConfig(max_epochs=epochs, batch_size=8, seed=3),
        test_size=10,
        season_length=None,
        metadata=VersionMetadata("hooks", 1, "2026-01-01T00:00:00Z"),
    )


def test_the_worker_reports_every_epoch_as_a_plain_dict() -> None:
    sink = Sink()
    checkpoint = train_in_worker(plan(3), WorkerHooks(progress=sink, cancel=Flag()))
    forecaster, _ = parse_checkpoint(checkpoint)
    info = forecaster.training
    assert len(sink.items) == info.epochs + info.refit_epochs
    assert [(i["phase"], i["epoch"]) for i in sink.items] == [
        ("fit", 1),
        ("fit", 2),
        ("fit", 3),
        ("refit", 1),
        ("refit", 2),
    ]
    assert set(sink.items[0]) >= {"train_loss", "validation_loss", "elapsed_seconds", "max_epochs"}


def test_without_hooks_the_worker_trains_the_same_model() -> None:
    plain, _ = parse_checkpoint(train_in_worker(plan(2), None))
    hooked, _ = parse_checkpoint(train_in_worker(plan(2), WorkerHooks(Sink(), Flag())))
    for key, tensor in plain.state.items():
        assert np.array_equal(tensor.numpy(), hooked.state[key].numpy())


def test_a_set_cancel_flag_stops_the_training() -> None:
    flag = Flag(set_after=0)
    with pytest.raises(TrainingCancelledError):
        train_in_worker(plan(50), WorkerHooks(progress=Sink(), cancel=flag))
    assert flag.polls == 1  # the very first batch saw it


class Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize(("step", "expected"), [(0.0, "once"), (1.0, "every batch")])
def test_the_cancel_flag_is_polled_at_most_every_cancel_poll_seconds(
    monkeypatch: pytest.MonkeyPatch, step: float, expected: str
) -> None:
    """Each poll of a Manager Event is an IPC round trip (~100 us): the worker polls once per
    batch only if CANCEL_POLL_SECONDS have passed since the last poll."""
    monkeypatch.setattr(worker, "time", Clock(step))
    flag = Flag()
    train_in_worker(plan(2), WorkerHooks(progress=Sink(), cancel=flag))
    windows = 200 - 10 - 8
    train_windows = windows - windows // 10  # the validation tenth is not trained on
    batches = 2 * -(-train_windows // 8) + 2 * -(-(200 - 8) // 8)  # 2 fit + 2 refit epochs
    assert flag.polls == (1 if expected == "once" else batches)
