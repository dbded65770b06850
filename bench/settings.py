"""What a full and a quick run of bench.core measure, and its progress log."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Settings:
    seeds: tuple[int, ...]
    tutorial_cap: int  # epochs
    ours_cap: int  # epochs
    reproduction_epochs: int  # seed 42, checked against the tutorial's printed numbers
    horizons: dict[int, int] = field(default_factory=dict)  # horizon -> repeats
    batch_count: int = 64
    batch_horizons: dict[int, int] = field(default_factory=dict)  # horizon -> repeats
    peak_sizes: tuple[int, ...] = (512, 1024)
    peak_repeats: int = 10


FULL = Settings(
    seeds=(0, 1, 2),
    tutorial_cap=30,
    ours_cap=14,
    reproduction_epochs=10,
    horizons={40: 31, 200: 11, 1000: 7},
    batch_horizons={40: 7, 200: 3},
    peak_sizes=(256, 512, 1024),
)
QUICK = Settings(
    seeds=(0,),
    tutorial_cap=30,
    ours_cap=14,
    reproduction_epochs=1,
    horizons={40: 5, 200: 3},
    batch_horizons={40: 1},
    peak_sizes=(512,),
    peak_repeats=3,
)
THREAD_LABELS = {"default": "default BLAS threads", "1": "1 BLAS thread"}


def log(message: str) -> None:
    print(f"[bench.core] {message}", file=sys.stderr, flush=True)
