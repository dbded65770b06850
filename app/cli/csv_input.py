"""What the command line reads: a series (and its timestamps) from a column of a CSV file."""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class InputError(Exception):
    """The input file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class CsvSeries:
    values: list[float]
    timestamps: list[str] | None
    column: str  # the column read, by header name or position


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows(text: str) -> list[list[str]]:
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # one column: nothing to sniff
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]
    return [row for row in rows if any(row)]


def read_csv_series(
    source: str, column: str | None = None, time_column: str | None = None
) -> CsvSeries:
    """A series from a CSV file ('-': standard input): one column of numbers, optionally with a
    header row and other columns (timestamps). `column` is a header name or a 1-based position;
    by default the last column of numbers."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {source}: {error}") from error
    rows = _rows(text)
    if not rows:
        raise InputError(f"{source} holds no rows")
    width = max(len(row) for row in rows)
    body = rows[1:] if len(rows) > 1 else rows
    numeric = [
        c
        for c in range(width)
        if all(_number(r[c] if c < len(r) else "") is not None for r in body)
    ]
    has_header = len(rows) > 1 and (
        any(_number(rows[0][c] if c < len(rows[0]) else "") is None for c in numeric) or not numeric
    )
    header = rows[0] if has_header else []
    data = rows[1:] if has_header else rows
    index = _column(column, header, numeric, width, source)
    label = header[index] if has_header and index < len(header) else f"column {index + 1}"
    values = []
    for number, row in enumerate(data, start=2 if has_header else 1):
        cell = row[index] if index < len(row) else ""
        value = _number(cell)
        if value is None:
            raise InputError(f"{source}, line {number}, {label}: expected a number, got {cell!r}")
        values.append(value)
    timestamps = None
    if time_column is not None:
        t = _column(time_column, header, list(range(width)), width, source)
        timestamps = [row[t] if t < len(row) else "" for row in data]
    return CsvSeries(values, timestamps, label)


def _column(
    wanted: str | None, header: list[str], numeric: list[int], width: int, source: str
) -> int:
    if wanted is None:
        if not numeric:
            raise InputError(f"{source} has no column of numbers (one finite number per row)")
        return numeric[-1]
    if wanted in header:
        return header.index(wanted)
    if wanted.isdigit() and 1 <= int(wanted) <= width:
        return int(wanted) - 1
    names = f"header names {header}" if header else "no header row"
    raise InputError(
        f"{source} has no column {wanted!r}: expected a header name or a position 1..{width} "
        f"({names})"
    )
