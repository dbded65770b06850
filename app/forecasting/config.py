"""Configuration dataclasses for a model and for its training."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

CellType = Literal["lstm", "gru", "rnn"]
CELL_TYPES: tuple[CellType, ...] = ("lstm", "gru", "rnn")


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Architecture of a forecaster; the defaults are the tutorial's LSTM(1, 50) + Linear(50, 1).

    With `difference`, the network reads and predicts first differences: a window of
    `window_size` values becomes `window_size - 1` steps, and forecasts are summed back onto the
    last value. That lets it follow a trend beyond the range it was trained on, which a network
    reading levels scaled to its training range cannot (forecaster.py).
    """

    window_size: int = 40
    hidden_size: int = 50
    num_layers: int = 1
    cell: CellType = "lstm"
    difference: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELL_TYPES:
            raise ValueError(f"cell must be one of {CELL_TYPES}, got {self.cell!r}")
        for name in ("window_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.difference, bool):
            raise ValueError(f"difference must be true or false, got {self.difference!r}")
        if self.difference and self.window_size < 2:
            raise ValueError(f"difference needs window_size >= 2, got {self.window_size}")

    @property
    def input_length(self) -> int:
        """Steps the network reads: window_size, or one fewer when it reads differences."""
        return self.window_size - 1 if self.difference else self.window_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown model config keys {sorted(unknown)}; expected {sorted(known)}"
            )
        return cls(**data)


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """How a model is trained; `None` fields are resolved from the number of training windows.

    Measured on the tutorial's sine (docs/benchmarks.md): Adam on mini-batches of 16 with a
    learning rate decayed x0.8 per epoch reaches a holdout MSE around 1e-5 in 12 epochs (41
    batches each, about 500 optimizer steps), where the tutorial's batch-size-1 SGD reached
    0.0089 in 10 epochs. Short series have few batches per epoch, so the default plans epochs to
    give about `target_steps` optimizer steps, and stretches the decay to fall by the same total
    factor over the plan.
    """

    max_epochs: int | None = None
    max_seconds: float = 60.0
    learning_rate: float = 0.01
    lr_decay: float | None = None
    batch_size: int = 16
    seed: int = 0
    validation_fraction: float = 0.1
    patience: int | None = None
    refit_epochs: int = 2
    num_threads: int = 1
    target_steps: int = 450

    def __post_init__(self) -> None:
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")
        if not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.lr_decay is not None and not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")
        if self.refit_epochs < 0 or self.num_threads < 1 or self.target_steps < 1:
            raise ValueError("refit_epochs must be >= 0, num_threads and target_steps >= 1")

    def planned_epochs(self, train_windows: int) -> int:
        """max_epochs, or enough epochs for about `target_steps` optimizer steps (12..500)."""
        if self.max_epochs is not None:
            return self.max_epochs
        batches = max(1, math.ceil(train_windows / self.batch_size))
        return min(500, max(12, math.ceil(self.target_steps / batches)))

    def decay_per_epoch(self, train_windows: int) -> float:
        """lr_decay, or 0.8 per epoch rescaled so 12 epochs' worth of decay spans the plan."""
        if self.lr_decay is not None:
            return self.lr_decay
        return float(0.8 ** (12 / self.planned_epochs(train_windows)))

    def early_stopping_patience(self, train_windows: int) -> int:
        """patience, or a quarter of the planned epochs (at least 3)."""
        if self.patience is not None:
            return self.patience
        return max(3, self.planned_epochs(train_windows) // 4)
