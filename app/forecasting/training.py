"""Mini-batch training of a RecurrentRegressor on the windows of one (scaled) series."""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from app.forecasting.config import ModelConfig, TrainingConfig
from app.forecasting.errors import TrainingCancelledError
from app.forecasting.model import RecurrentRegressor
from app.forecasting.windowing import FloatArray, make_windows

StopReason = Literal["early_stopping", "max_epochs", "time_budget"]
StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True, slots=True)
class EpochProgress:
    """What a progress callback hears after every epoch."""

    phase: Literal["fit", "refit"]
    epoch: int
    max_epochs: int
    train_loss: float
    validation_loss: float | None
    elapsed_seconds: float
    max_seconds: float


@dataclass(frozen=True, slots=True)
class TrainingInfo:
    epochs: int  # epochs run in the fit phase (then `refit_epochs` more on the whole series)
    planned_epochs: int
    best_epoch: int
    refit_epochs: int
    seconds: float
    final_loss: float  # training MSE (scaled units) of the last epoch run
    best_validation_loss: float | None
    stopped_by: StopReason
    train_windows: int
    validation_windows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingInfo:
        return cls(**data)


ProgressCallback = Callable[[EpochProgress], None]
StopCallback = Callable[[], bool]


@dataclass(slots=True)
class _Snapshot:
    model: StateDict
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]


def _tensor(values: FloatArray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


def _run_epoch(
    model: RecurrentRegressor,
    optimizer: torch.optim.Optimizer,
    windows: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    should_stop: StopCallback | None,
    deadline: float,
) -> float:
    """One shuffled pass, cut short at `deadline` (perf_counter) after at least one batch;
    returns the mean training MSE over the windows it trained on."""
    model.train()
    loss_fn = nn.MSELoss()
    order = torch.randperm(len(windows), generator=generator)
    total = 0.0
    seen = 0
    for start in range(0, len(order), batch_size):
        if should_stop is not None and should_stop():
            raise TrainingCancelledError("training was cancelled")
        # The time budget binds inside an epoch: one pass over a long series in small batches
        # can take longer than the whole budget.
        if seen and time.perf_counter() >= deadline:
            break
        batch = order[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(windows[batch]), labels[batch])  # (b, w) -> (b,)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(batch)
        seen += len(batch)
    return total / seen


def _evaluate(model: RecurrentRegressor, windows: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        return float(torch.mean((model(windows) - labels) ** 2))


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Bounded torch threads for one training, restored afterwards (the setting is global)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_model(
    scaled_series: FloatArray,
    model_config: ModelConfig,
    training: TrainingConfig,
    *,
    refit_series: FloatArray | None = None,
    on_epoch: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> tuple[StateDict, StateDict, TrainingInfo]:
    """Train on `scaled_series`, keep the best epoch by validation loss, then optionally refit.

    Returns (selected, final, info): the weights chosen by validation loss, and the weights after
    the refit (the same weights when there was none).

    The validation split is the last `validation_fraction` of the windows (chronologically), so
    model selection never sees anything after the training part. `refit_series`, when given, is
    the whole series (training part + holdout): the selected model then trains `refit_epochs` more
    epochs on all of its windows with the optimizer state it had, as the tutorial's second phase.
    """
    started = time.perf_counter()
    deadline = started + training.max_seconds  # covers the fit and the refit
    with _torch_threads(training.num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(training.seed)
        generator = torch.Generator().manual_seed(training.seed)
        model = RecurrentRegressor(model_config)
        windows_np, labels_np = make_windows(scaled_series, model_config.window_size)
        windows, labels = _tensor(windows_np), _tensor(labels_np)  # (N, w), (N,)
        n_validation = math.floor(len(windows) * training.validation_fraction)
        if len(windows) - n_validation < 1:
            n_validation = 0
        n_train = len(windows) - n_validation
        train_x, train_y = windows[:n_train], labels[:n_train]
        val_x, val_y = windows[n_train:], labels[n_train:]

        max_epochs = training.planned_epochs(n_train)
        patience = training.early_stopping_patience(n_train)
        # fused=True: one kernel for the whole update, about half the cost of the default
        # per-parameter loop (measured 405 vs 758 µs per step, bench/train_steps.py).
        optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate, fused=True)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(
            optimizer, gamma=training.decay_per_epoch(n_train)
        )
        best: _Snapshot | None = None
        best_loss, best_epoch, train_loss = math.inf, 0, math.inf
        stopped_by: StopReason = "max_epochs"
        epoch = 0
        best_validation: float | None = None
        for epoch in range(1, max_epochs + 1):
            train_loss = _run_epoch(
                model,
                optimizer,
                train_x,
                train_y,
                training.batch_size,
                generator,
                should_stop,
                deadline,
            )
            scheduler.step()
            validation_loss = _evaluate(model, val_x, val_y) if n_validation else None
            # Without a validation split, the training loss is the only signal there is.
            selection_loss = validation_loss if validation_loss is not None else train_loss
            if on_epoch is not None:
                on_epoch(
                    EpochProgress(
                        "fit",
                        epoch,
                        max_epochs,
                        train_loss,
                        validation_loss,
                        time.perf_counter() - started,
                        training.max_seconds,
                    )
                )
            if selection_loss < best_loss or best is None:
                best_loss, best_epoch = selection_loss, epoch
                best_validation = validation_loss
                best = _Snapshot(
                    copy.deepcopy(model.state_dict()),
                    copy.deepcopy(optimizer.state_dict()),
                    copy.deepcopy(scheduler.state_dict()),
                )
            elif epoch - best_epoch >= patience:
                stopped_by = "early_stopping"
                break
            if time.perf_counter() - started >= training.max_seconds:
                stopped_by = "time_budget"
                break
        fit_epochs = epoch
        assert best is not None  # at least one epoch always runs
        model.load_state_dict(best.model)
        selected = {name: tensor.detach().clone() for name, tensor in best.model.items()}
        optimizer.load_state_dict(best.optimizer)
        scheduler.load_state_dict(best.scheduler)

        refit_epochs = 0
        if refit_series is not None and training.refit_epochs > 0:
            all_x_np, all_y_np = make_windows(refit_series, model_config.window_size)
            all_x, all_y = _tensor(all_x_np), _tensor(all_y_np)
            for refit_epoch in range(1, training.refit_epochs + 1):
                if time.perf_counter() >= deadline:
                    stopped_by = "time_budget"
                    break
                train_loss = _run_epoch(
                    model,
                    optimizer,
                    all_x,
                    all_y,
                    training.batch_size,
                    generator,
                    should_stop,
                    deadline,
                )
                scheduler.step()
                refit_epochs = refit_epoch
                if on_epoch is not None:
                    on_epoch(
                        EpochProgress(
                            "refit",
                            refit_epoch,
                            training.refit_epochs,
                            train_loss,
                            None,
                            time.perf_counter() - started,
                            training.max_seconds,
                        )
                    )
        model.eval()
        final = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    info = TrainingInfo(
        epochs=fit_epochs,
        planned_epochs=max_epochs,
        best_epoch=best_epoch,
        refit_epochs=refit_epochs,
        seconds=time.perf_counter() - started,
        final_loss=train_loss,
        best_validation_loss=best_validation,
        stopped_by=stopped_by,
        train_windows=n_train,
        validation_windows=n_validation,
    )
    return selected, final, info
