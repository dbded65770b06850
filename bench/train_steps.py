"""Where one training step of our default training goes: nn.LSTM forward, backward, Adam.

    .venv/bin/python -m bench.train_steps     # a few seconds; prints markdown

One mini-batch of 16 windows of 40 values through `RecurrentRegressor` (the model `fit` trains),
with torch.optim.Adam as `app.forecasting.training` builds it (the default implementation) and,
for comparison, its `foreach=True` and `fused=True` variants. Medians of interleaved repeats.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import torch

from app.forecasting import ModelConfig
from app.forecasting.model import RecurrentRegressor
from bench.flops import window_forward_flops, window_training_flops
from bench.report import Report

BATCH = 16


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    windows, labels = torch.randn(BATCH, 40), torch.randn(BATCH)  # (B, w), (B,)
    model = RecurrentRegressor(ModelConfig())
    loss_fn = torch.nn.MSELoss()
    optimizers = {
        "Adam step (default, as trained)": torch.optim.Adam(model.parameters(), lr=1e-6),
        "Adam step (foreach=True)": torch.optim.Adam(model.parameters(), lr=1e-6, foreach=True),
        "Adam step (fused=True)": torch.optim.Adam(model.parameters(), lr=1e-6, fused=True),
    }

    def forward() -> None:
        with torch.no_grad():
            model(windows)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        loss_fn(model(windows), labels).backward()

    forward_backward()  # gradients for the optimizer steps
    cases: dict[str, Callable[[], object]] = {
        "forward (no grad)": forward,
        "forward + backward": forward_backward,
    }
    cases.update({name: optimizer.step for name, optimizer in optimizers.items()})
    for run in cases.values():
        run()  # warm-up; also creates the Adam states
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, run in cases.items():
            if name.startswith("Adam"):
                forward_backward()
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    flop = {
        "forward (no grad)": BATCH * window_forward_flops(),
        "forward + backward": BATCH * window_training_flops(),
    }
    rows = []
    for name, values in times.items():
        seconds = float(np.median(values))
        rate = f"{flop[name] / seconds / 1e9:.1f}" if name in flop else ""
        rows.append([name, f"{seconds * 1e6:.0f}", rate])
    report = Report()
    report.title("One training step of the default model, batch 16")
    report.line(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; torch "
        f"{torch.__version__}, 1 thread; median of {args.repeats} interleaved repeats. "
        "Command: `.venv/bin/python -m bench.train_steps`."
    )
    report.line("")
    report.table(["part", "µs", "GFLOP/s"], rows)
    print(report.text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
