from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.forecasting.timestamps import (
    InvalidTimestampsError,
    TimeIndex,
    from_start,
    from_timestamps,
    parse_freq,
    resolve_time_index,
)


@pytest.mark.parametrize(
    ("alias", "canonical", "step"),
    [
        ("D", "D", timedelta(days=1)),
        ("H", "h", timedelta(hours=1)),
        ("h", "h", timedelta(hours=1)),
        ("15min", "15min", timedelta(minutes=15)),
        ("15T", "15min", timedelta(minutes=15)),
        ("S", "s", timedelta(seconds=1)),
        ("W", "W", timedelta(weeks=1)),
        ("2W", "2W", timedelta(weeks=2)),
        ("500ms", "500ms", timedelta(milliseconds=500)),
    ],
)
def test_fixed_aliases(alias: str, canonical: str, step: timedelta) -> None:
    frequency = parse_freq(alias)
    assert frequency.alias == canonical
    assert frequency.fixed == step


@pytest.mark.parametrize(
    ("alias", "canonical", "months"),
    [
        ("MS", "MS", 1),
        ("M", "ME", 1),
        ("ME", "ME", 1),
        ("QS", "QS", 3),
        ("Q", "QE", 3),
        ("YS", "YS", 12),
        ("A", "YE", 12),
        ("Y", "YE", 12),
        ("3MS", "3MS", 3),
    ],
)
def test_calendar_aliases(alias: str, canonical: str, months: int) -> None:
    frequency = parse_freq(alias)
    assert (frequency.alias, frequency.months, frequency.fixed) == (canonical, months, None)


@pytest.mark.parametrize("alias", ["", "fortnight", "0D", "ms2", "1.5h", "B"])
def test_unknown_aliases_are_refused_with_the_supported_list(alias: str) -> None:
    with pytest.raises(InvalidTimestampsError, match=r"freq must be|multiple must be"):
        parse_freq(alias)


def test_month_end_steps_follow_the_calendar() -> None:
    index = from_start(3, "2024-01-31", "ME")
    assert [index.format(index.at(i)) for i in range(3)] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
    ]
    assert index.future(2) == ["2024-04-30", "2024-05-31"]
    assert from_start(2, "2023-12-31", "QE").future(2) == ["2024-06-30", "2024-09-30"]
    assert from_start(1, "2020-01-01", "YS").future(1) == ["2021-01-01"]


def test_times_keep_their_offset_and_format() -> None:
    index = from_timestamps(["2024-03-01T00:00:00Z", "2024-03-01T00:15:00Z"])
    assert index.freq.alias == "15min"
    assert index.future(2) == ["2024-03-01T00:30:00+00:00", "2024-03-01T00:45:00+00:00"]
    assert from_start(2, "2024-03-01", "6h").future(1) == ["2024-03-01T12:00:00"]


def test_inferred_calendar_frequencies() -> None:
    assert from_timestamps(["2024-01-01", "2024-02-01", "2024-03-01"]).freq.alias == "MS"
    assert from_timestamps(["2024-01-31", "2024-02-29", "2024-03-31"]).freq.alias == "ME"
    assert from_timestamps(["2024-01-01", "2024-04-01"]).freq.alias == "QS"
    assert from_timestamps(["2001-12-31", "2002-12-31"]).freq.alias == "YE"
    assert from_timestamps(["2024-01-01", "2024-01-08"]).freq.alias == "W"
    assert from_timestamps(["2024-02-01", "2024-05-01"]).freq.alias == "3MS"
    assert from_start(2, "2024-02-01", "3MS").future(1) == ["2024-08-01"]


def test_the_first_gap_is_named() -> None:
    with pytest.raises(InvalidTimestampsError) as error:
        from_timestamps(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-06", "2024-01-07"])
    message = str(error.value)
    assert "timestamps[2] ('2024-01-03') and timestamps[3] ('2024-01-06')" in message
    assert "3 days instead of one step to '2024-01-04'" in message


def test_duplicates_and_decreasing_timestamps_are_refused() -> None:
    with pytest.raises(InvalidTimestampsError, match=r"timestamps\[2\].*repeats timestamps\[1\]"):
        from_timestamps(["2024-01-01", "2024-01-02", "2024-01-02"])
    with pytest.raises(InvalidTimestampsError, match=r"timestamps\[1\].*comes before"):
        from_timestamps(["2024-01-02", "2024-01-01"])


def test_other_refusals() -> None:
    with pytest.raises(InvalidTimestampsError, match="ISO-8601"):
        from_timestamps(["2024-01-01", "yesterday"])
    with pytest.raises(InvalidTimestampsError, match="all carry a timezone offset or all"):
        from_timestamps(["2024-01-01T00:00:00", "2024-01-01T01:00:00+00:00"])
    with pytest.raises(InvalidTimestampsError, match="first day of a month"):
        from_start(3, "2024-01-15", "MS")
    with pytest.raises(InvalidTimestampsError, match="last day of a quarter"):
        from_start(3, "2024-01-31", "QE")
    with pytest.raises(InvalidTimestampsError, match="send freq too"):
        from_timestamps(["2024-01-01"])
    with pytest.raises(InvalidTimestampsError, match="evenly spaced at 'D' \\(freq\\)"):
        from_timestamps(["2024-01-01", "2024-01-03"], "D")
    with pytest.raises(InvalidTimestampsError, match="leave years"):
        from_start(10, "9999-06-01", "MS")


def test_resolve_time_index_checks_the_combination() -> None:
    assert resolve_time_index(3) is None
    index = resolve_time_index(3, start="2024-01-01", freq="D")
    assert index is not None
    assert index.format(index.at(2)) == "2024-01-03"
    with pytest.raises(InvalidTimestampsError, match="expected 3, got 2"):
        resolve_time_index(3, timestamps=["2024-01-01", "2024-01-02"])
    with pytest.raises(InvalidTimestampsError, match="start needs freq"):
        resolve_time_index(3, start="2024-01-01")
    with pytest.raises(InvalidTimestampsError, match="freq needs start"):
        resolve_time_index(3, freq="D")
    with pytest.raises(InvalidTimestampsError, match="not both"):
        resolve_time_index(1, timestamps=["2024-01-01"], start="2024-01-01", freq="D")


def test_index_survives_to_dict() -> None:
    index = from_start(30, "2024-01-31", "ME")
    again = TimeIndex.from_dict(index.to_dict())
    assert again == index
    assert again.future(3) == index.future(3)


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    alias=st.sampled_from(["s", "15min", "h", "2h", "D", "W", "MS", "ME", "QS", "YE", "3MS"]),
    length=st.integers(2, 40),
    horizon=st.integers(1, 10),
)
def test_start_and_freq_round_trip_through_explicit_timestamps(
    start: datetime, alias: str, length: int, horizon: int
) -> None:
    frequency = parse_freq(alias)
    while not frequency.is_anchored(start):  # move the start onto the calendar anchor
        start += timedelta(days=1)
    index = from_start(length, start.isoformat(), alias)
    explicit = [index.format(index.at(i)) for i in range(length)]
    inferred = from_timestamps(explicit)
    # The inferred alias may name the same step differently (3MS from January 1st is QS).
    assert (inferred.freq.fixed, inferred.freq.months) == (index.freq.fixed, index.freq.months)
    assert inferred.future(horizon) == index.future(horizon)
    assert from_timestamps(explicit, alias).future(horizon) == index.future(horizon)
