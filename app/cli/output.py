"""What the command line prints: tables, CSV and JSON, a progress bar."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from app.client import Forecast, Model, Progress


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if right else c.ljust(w)
                for c, w, right in zip(row, widths, numeric, strict=True)
            ).rstrip()
        )
    return "\n".join(lines)


def models_table(models: Sequence[Model]) -> str:
    headers = ["MODEL", "VERSION", "CELL", "WINDOW", "TEST_MSE", "NAIVE_MSE", "SNAIVE_MSE", "MASE"]
    rows = [
        [
            m.model,
            m.version,
            m.config.cell,
            m.config.window_size,
            m.metrics.test_mse,
            m.metrics.naive_mse,
            m.metrics.seasonal_naive_mse,
            m.metrics.mase,
        ]
        for m in models
    ]
    return table(headers, rows)


def forecast_rows(result: Forecast) -> tuple[list[str], list[list[Any]]]:
    headers = ["step"]
    if result.timestamps:
        headers.append("time")
    headers.append("forecast")
    for interval in result.intervals or []:
        headers += [f"lower_{interval.level:g}", f"upper_{interval.level:g}"]
    rows = []
    for i, value in enumerate(result.forecast):
        row: list[Any] = [i + 1]
        if result.timestamps:
            row.append(result.timestamps[i])
        row.append(value)
        for interval in result.intervals or []:
            row += [interval.lower[i], interval.upper[i]]
        rows.append(row)
    return headers, rows


def write_forecast(result: Forecast, output_format: str, out: TextIO) -> None:
    if output_format == "json":
        out.write(result.model_dump_json(indent=2, exclude_none=True) + "\n")
        return
    headers, rows = forecast_rows(result)
    if output_format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([[repr(v) if isinstance(v, float) else v for v in row] for row in rows])
        return
    out.write(f"model {result.model} version {result.version}, {result.horizon} steps\n")
    out.write(table(headers, rows) + "\n")


def model_summary(model: Model) -> str:
    m, t = model.metrics, model.training
    lines = [
        f"model {model.model} version {model.version}: {model.config.cell}, window "
        f"{model.config.window_size}, hidden {model.config.hidden_size}",
        f"trained {t.epochs} epochs (+{t.refit_epochs} refit) in {t.seconds:.1f} s, stopped by "
        f"{t.stopped_by}",
        f"holdout ({m.test_size} points): MSE {_cell(m.test_mse)}, naive {_cell(m.naive_mse)}, "
        f"seasonal naive {_cell(m.seasonal_naive_mse)}, MASE {_cell(m.mase)}",
    ]
    if model.promotion is not None:
        verdict = "served" if model.promotion.promoted else "kept as a candidate (not served)"
        lines.append(f"{verdict}: {model.promotion.reason}")
    return "\n".join(lines)


def dump_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2) + "\n")


class ProgressBar:
    """One line redrawn in place on a terminal, one line per update otherwise."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.live = out.isatty()
        self.drawn = False

    def __call__(self, progress: Progress) -> None:
        if progress.epoch is None:
            return
        fraction = min(1.0, max(0.0, progress.fraction or 0.0))
        filled = round(fraction * self.width)
        parts = [
            f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}",
            f"{progress.phase} {progress.epoch}/{progress.epochs_planned}",
            f"loss {_cell(progress.train_loss)}",
        ]
        if progress.validation_loss is not None:
            parts.append(f"val {_cell(progress.validation_loss)}")
        if progress.eta_seconds is not None:
            parts.append(f"~{progress.eta_seconds:.0f} s left")
        line = "  ".join(parts)
        if self.live:
            self.out.write("\r\033[K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.live and self.drawn:
            self.out.write("\n")
            self.out.flush()
