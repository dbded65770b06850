"""Regular time indexes: ISO-8601 timestamps or `start` + a pandas-style `freq` alias.

A series is a list of values; a `TimeIndex` says when they were observed (evenly spaced, one per
value) so that a forecast can say when its values fall. Supported aliases (an optional integer
multiple in front, e.g. `15min`, `2h`, `3MS`):

    fixed steps      us, ms, s (S), min (T), h (H), D, W (7 days from the start, no weekday anchor)
    calendar steps   MS month start, ME (M) month end, QS / QE (Q) quarter start / end,
                     YS (AS) / YE (Y, A) year start / end; quarters start in Jan, Apr, Jul, Oct

Calendar frequencies need an anchored start (the 1st for MS, the last day of a month for ME, ...)
and keep the start's time of day. Timezone offsets are kept as given; a series whose offset changes
(daylight saving) is not evenly spaced in absolute time and is refused, so send UTC or local times
without an offset. Dates without a time (`2024-01-31`) come back as dates.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from app.forecasting.errors import InvalidSeriesError

Anchor = Literal["start", "end"]
_ALIAS = re.compile(r"^\s*(\d*)\s*([A-Za-z]+)\s*$")
_FIXED_UNITS: dict[str, tuple[str, timedelta]] = {
    "us": ("us", timedelta(microseconds=1)),
    "ms": ("ms", timedelta(milliseconds=1)),
    "s": ("s", timedelta(seconds=1)),
    "S": ("s", timedelta(seconds=1)),
    "min": ("min", timedelta(minutes=1)),
    "T": ("min", timedelta(minutes=1)),
    "h": ("h", timedelta(hours=1)),
    "H": ("h", timedelta(hours=1)),
    "D": ("D", timedelta(days=1)),
    "d": ("D", timedelta(days=1)),
    "W": ("W", timedelta(weeks=1)),
}
# alias -> (canonical alias, months per step, anchor)
_CALENDAR_UNITS: dict[str, tuple[str, int, Anchor]] = {
    "MS": ("MS", 1, "start"),
    "M": ("ME", 1, "end"),
    "ME": ("ME", 1, "end"),
    "QS": ("QS", 3, "start"),
    "Q": ("QE", 3, "end"),
    "QE": ("QE", 3, "end"),
    "YS": ("YS", 12, "start"),
    "AS": ("YS", 12, "start"),
    "Y": ("YE", 12, "end"),
    "A": ("YE", 12, "end"),
    "YE": ("YE", 12, "end"),
}
# Fixed steps are named by the largest unit that divides them.
_NAMING_UNITS = ("W", "D", "h", "min", "s", "ms", "us")
SUPPORTED_ALIASES = tuple(_FIXED_UNITS) + tuple(_CALENDAR_UNITS)


class InvalidTimestampsError(InvalidSeriesError):
    """Timestamps or a frequency that cannot index the series; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Frequency:
    """One step of a regular index: a fixed duration, or a number of calendar months."""

    alias: str  # canonical, e.g. "15min", "D", "MS", "3ME"
    fixed: timedelta | None = None
    months: int = 0  # months per step
    unit_months: int = 1  # months of the alias' unit: 1 (M), 3 (Q) or 12 (Y); sets the anchor
    anchor: Anchor | None = None

    def shift(self, moment: datetime, steps: int) -> datetime:
        """`moment` moved `steps` steps (any sign); calendar steps keep the month anchor."""
        if self.fixed is not None:
            try:
                return moment + self.fixed * steps
            except OverflowError:
                raise InvalidTimestampsError(
                    f"{steps} steps of {self.alias} from {moment} leave years 1..9999"
                ) from None
        total = moment.year * 12 + (moment.month - 1) + self.months * steps
        year, month = divmod(total, 12)
        if not 1 <= year <= 9999:
            raise InvalidTimestampsError(f"{self.alias} steps from {moment} leave years 1..9999")
        day = 1 if self.anchor == "start" else calendar.monthrange(year, month + 1)[1]
        return moment.replace(year=year, month=month + 1, day=day)

    def is_anchored(self, moment: datetime) -> bool:
        """Whether `moment` lies on this frequency's calendar anchor (always true for fixed)."""
        if self.fixed is not None:
            return True
        if self.anchor == "start":
            on_day = moment.day == 1
        else:
            on_day = moment.day == calendar.monthrange(moment.year, moment.month)[1]
        first_month = 1 if self.anchor == "start" else self.unit_months
        return on_day and (moment.month - first_month) % self.unit_months == 0

    def describe_anchor(self) -> str:
        period = {1: "month", 3: "quarter", 12: "year"}[self.unit_months]
        return f"the {'first' if self.anchor == 'start' else 'last'} day of a {period}"


def parse_freq(alias: str) -> Frequency:
    """A Frequency from a pandas-style alias such as `D`, `15min`, `h`, `MS`, `W`."""
    match = _ALIAS.match(alias)
    unit = match.group(2) if match else ""
    if match is None or (unit not in _FIXED_UNITS and unit not in _CALENDAR_UNITS):
        raise InvalidTimestampsError(
            f"freq must be a pandas-style alias with an optional multiple, one of "
            f"{', '.join(SUPPORTED_ALIASES)} (e.g. 'D', '15min', 'MS'); got {alias!r}"
        )
    multiple = int(match.group(1)) if match.group(1) else 1
    if not 1 <= multiple <= 100_000:
        raise InvalidTimestampsError(
            f"freq multiple must be 1..100000; got {multiple} in {alias!r}"
        )
    prefix = str(multiple) if multiple != 1 else ""
    if unit in _FIXED_UNITS:
        name, step = _FIXED_UNITS[unit]
        return Frequency(alias=prefix + name, fixed=step * multiple)
    name, months, anchor = _CALENDAR_UNITS[unit]
    return Frequency(
        alias=prefix + name, months=months * multiple, unit_months=months, anchor=anchor
    )


def _fixed_frequency(step: timedelta) -> Frequency:
    for unit in _NAMING_UNITS:
        size = _FIXED_UNITS[unit][1]
        if step % size == timedelta(0):
            count = step // size
            return Frequency(alias=(str(count) if count != 1 else "") + unit, fixed=step)
    raise AssertionError("every timedelta is a whole number of microseconds")


def _calendar_frequency(first: datetime, second: datetime) -> Frequency | None:
    """The calendar frequency stepping from `first` to `second`, if both are month-anchored."""
    months = (second.year - first.year) * 12 + (second.month - first.month)
    if months < 1:
        return None
    # The largest unit whose anchor fits: Jan 1 -> Apr 1 is QS, Feb 1 -> May 1 is 3MS.
    for unit in ("YS", "YE", "QS", "QE", "MS", "ME"):
        unit_months = _CALENDAR_UNITS[unit][1]
        if months % unit_months:
            continue
        count = months // unit_months
        candidate = parse_freq(f"{count if count != 1 else ''}{unit}")
        if candidate.is_anchored(first) and candidate.shift(first, 1) == second:
            return candidate
    return None


def parse_timestamp(text: str, *, name: str) -> tuple[datetime, bool]:
    """(moment, date_only) from an ISO-8601 string; date_only when it has no time part."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time()), True
        return datetime.fromisoformat(text), False
    except ValueError:
        raise InvalidTimestampsError(
            f"{name} must be an ISO-8601 date or date-time such as '2024-01-31' or "
            f"'2024-01-31T13:00:00Z'; got {text!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class TimeIndex:
    """`length` evenly spaced moments from `start`, one step of `freq` apart."""

    start: datetime
    freq: Frequency
    length: int
    date_only: bool = False

    def at(self, position: int) -> datetime:
        return self.freq.shift(self.start, position)

    def format(self, moment: datetime) -> str:
        return moment.date().isoformat() if self.date_only else moment.isoformat()

    def future(self, horizon: int) -> list[str]:
        """The `horizon` moments after the last one, as ISO-8601 strings."""
        return [self.format(self.at(self.length + step)) for step in range(horizon)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.format(self.start),
            "freq": self.freq.alias,
            "length": self.length,
            "date_only": self.date_only,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimeIndex:
        start, _ = parse_timestamp(str(data["start"]), name="start")
        return cls(
            start, parse_freq(str(data["freq"])), int(data["length"]), bool(data["date_only"])
        )


def from_start(length: int, start: str, freq: str) -> TimeIndex:
    """The index of `length` values observed from `start` every `freq`."""
    frequency = parse_freq(freq)
    moment, date_only = parse_timestamp(start, name="start")
    if not frequency.is_anchored(moment):
        raise InvalidTimestampsError(
            f"start must fall on {frequency.describe_anchor()} for freq {frequency.alias!r}; "
            f"got {start!r}"
        )
    if date_only and frequency.fixed is not None and frequency.fixed % timedelta(days=1):
        date_only = False  # sub-daily steps from a date: report times
    index = TimeIndex(moment, frequency, length, date_only)
    index.at(length - 1)  # refuses indexes that run past year 9999
    return index


def from_timestamps(timestamps: Sequence[str], freq: str | None = None) -> TimeIndex:
    """The index of explicit timestamps: strictly increasing and evenly spaced (at `freq`, when
    given, else at the step between the first two)."""
    if not timestamps:
        raise InvalidTimestampsError("timestamps must hold one timestamp per value; got none")
    parsed = [parse_timestamp(text, name=f"timestamps[{i}]") for i, text in enumerate(timestamps)]
    moments = [moment for moment, _ in parsed]
    aware = moments[0].tzinfo is not None
    mixed = next((i for i, m in enumerate(moments) if (m.tzinfo is not None) != aware), None)
    if mixed is not None:
        raise InvalidTimestampsError(
            "timestamps must all carry a timezone offset or all carry none; "
            f"timestamps[0] is {timestamps[0]!r} but timestamps[{mixed}] is {timestamps[mixed]!r}"
        )
    _check_pair(timestamps, moments, 1)
    date_only = all(flag for _, flag in parsed)
    if freq is not None:
        frequency = parse_freq(freq)
        if not frequency.is_anchored(moments[0]):
            raise InvalidTimestampsError(
                f"timestamps[0] must fall on {frequency.describe_anchor()} for freq "
                f"{frequency.alias!r}; got {timestamps[0]!r}"
            )
    elif len(moments) == 1:
        raise InvalidTimestampsError(
            "one timestamp cannot show the spacing: send freq too (e.g. 'D'), or more timestamps"
        )
    else:
        frequency = _calendar_frequency(moments[0], moments[1]) or _fixed_frequency(
            moments[1] - moments[0]
        )
    index = TimeIndex(moments[0], frequency, len(moments), date_only)
    _check_regular(index, timestamps, moments, inferred=freq is None)
    return index


def _check_pair(texts: Sequence[str], moments: Sequence[datetime], i: int) -> None:
    """Refuse timestamps[i] if it repeats or precedes timestamps[i - 1]."""
    if i < len(moments):
        if moments[i] == moments[i - 1]:
            raise InvalidTimestampsError(
                f"timestamps must be strictly increasing without duplicates; timestamps[{i}] "
                f"({texts[i]!r}) repeats timestamps[{i - 1}] ({texts[i - 1]!r})"
            )
        if moments[i] < moments[i - 1]:
            raise InvalidTimestampsError(
                f"timestamps must be strictly increasing; timestamps[{i}] ({texts[i]!r}) comes "
                f"before timestamps[{i - 1}] ({texts[i - 1]!r})"
            )


def _check_regular(
    index: TimeIndex, texts: Sequence[str], moments: Sequence[datetime], *, inferred: bool
) -> None:
    """Refuse the first timestamp off the regular grid, naming the gap before it."""
    if index.freq.fixed is not None:
        step = index.freq.fixed
        bad = next((i for i in range(1, len(moments)) if moments[i] - moments[i - 1] != step), None)
    else:
        bad = next((i for i in range(1, len(moments)) if moments[i] != index.at(i)), None)
    if bad is None:
        return
    _check_pair(texts, moments, bad)  # the first problem may be a repeat or a step back
    source = "the step between timestamps[0] and timestamps[1]" if inferred else "freq"
    raise InvalidTimestampsError(
        f"timestamps must be evenly spaced at {index.freq.alias!r} ({source}); the first gap is "
        f"between timestamps[{bad - 1}] ({texts[bad - 1]!r}) and timestamps[{bad}] "
        f"({texts[bad]!r}): {_duration(moments[bad] - moments[bad - 1])} instead of one step to "
        f"{index.format(index.freq.shift(moments[bad - 1], 1))!r}"
    )


def _duration(delta: timedelta) -> str:
    if delta % timedelta(days=1) == timedelta(0):
        days = delta // timedelta(days=1)
        return f"{days} day{'s' if days != 1 else ''}"
    return str(delta)


def resolve_time_index(
    length: int,
    *,
    timestamps: Sequence[str] | None = None,
    start: str | None = None,
    freq: str | None = None,
) -> TimeIndex | None:
    """The index of a series of `length` values from whichever of the inputs was given."""
    if timestamps is not None and start is not None:
        raise InvalidTimestampsError("send either timestamps or start + freq, not both")
    if timestamps is not None:
        if len(timestamps) != length:
            raise InvalidTimestampsError(
                f"timestamps must hold one timestamp per value: expected {length}, "
                f"got {len(timestamps)}"
            )
        return from_timestamps(timestamps, freq)
    if start is not None:
        if freq is None:
            raise InvalidTimestampsError("start needs freq too (e.g. 'D', 'h', '15min', 'MS')")
        return from_start(length, start, freq)
    if freq is not None:
        raise InvalidTimestampsError("freq needs start (or timestamps) to place the values")
    return None
