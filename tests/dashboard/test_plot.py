"""The server-rendered SVG chart (app/plot.py)."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.plot import MAX_SERIES_POINTS, Band, ChartData, forecast_svg, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def line(root: ET.Element, role: str) -> list[tuple[float, float]]:
    element = root.find(f".//{SVG}polyline[@data-role='{role}']")
    assert element is not None, f"no {role} line"
    return [
        (float(x), float(y))
        for x, y in (pair.split(",") for pair in element.attrib["points"].split())
    ]


def sine(n: int) -> list[float]:
    return [math.sin(i * 2 * math.pi / 20) for i in range(n)]


def test_the_chart_draws_series_holdout_forecast_and_future_with_their_point_counts() -> None:
    series = sine(100)
    data = ChartData("sine v1", series, holdout_forecast=series[-10:], future=sine(25))
    root = parse(forecast_svg(data, width=800, height=300))
    assert root.attrib["viewBox"] == "0 0 800 300"
    assert root.attrib["data-forecast-points"] == "25"
    assert len(line(root, "series")) == 100
    assert len(line(root, "holdout-forecast")) == 10
    future = line(root, "forecast")
    assert len(future) == 25
    # The future starts right of the series and steps evenly to the right.
    assert future[0][0] > line(root, "series")[-1][0]
    steps = [b[0] - a[0] for a, b in itertools.pairwise(future)]
    assert max(steps) - min(steps) < 0.02
    # The holdout forecast sits under the series' last 10 values.
    assert [x for x, _ in line(root, "holdout-forecast")] == [
        x for x, _ in line(root, "series")[-10:]
    ]
    assert root.find(f"{SVG}title").text == "sine v1"
    assert "a forecast of the next 25 values" in root.find(f"{SVG}desc").text


def test_higher_values_are_drawn_higher_and_every_point_stays_inside_the_image() -> None:
    data = ChartData("ramp", [float(i) for i in range(50)], future=[50.0, 60.0, 40.0])
    root = parse(forecast_svg(data, width=500, height=250))
    ys = [y for _, y in line(root, "series")]
    assert ys == sorted(ys, reverse=True)  # increasing values, decreasing y
    future = line(root, "forecast")
    assert future[1][1] < future[0][1] < future[2][1]
    for x, y in line(root, "series") + future:
        assert 0 <= x <= 500
        assert 0 <= y <= 250


def test_bands_are_drawn_under_the_forecast_widest_first() -> None:
    future = [0.0] * 5
    bands = [
        Band(80, [-1.0] * 5, [1.0] * 5),
        Band(95, [-2.0] * 5, [2.0] * 5),
    ]
    root = parse(forecast_svg(ChartData("m", sine(30), future=future, bands=bands)))
    polygons = root.findall(f".//{SVG}polygon[@data-role='band']")
    assert [p.attrib["data-level"] for p in polygons] == ["95", "80"]
    assert len(polygons[0].attrib["points"].split()) == 10  # upper then lower edge
    assert "with 80% and 95% bands" in root.find(f"{SVG}desc").text


def test_text_is_escaped() -> None:
    svg = forecast_svg(ChartData("<b>&'\"</b>", sine(10)))
    assert parse(svg).find(f"{SVG}title").text == "<b>&'\"</b>"


def test_a_long_series_is_drawn_with_its_peaks_from_few_points() -> None:
    series = [0.0] * 50_000
    series[12_345], series[40_000] = 5.0, -3.0
    root = parse(forecast_svg(ChartData("long", series)))
    points = line(root, "series")
    assert len(points) <= MAX_SERIES_POINTS + 2
    ys = [y for _, y in points]
    top, bottom = min(ys), max(ys)
    assert top < bottom
    assert sum(1 for y in ys if y == top) >= 1
    assert sum(1 for y in ys if y == bottom) >= 1


def test_non_finite_values_are_left_out_and_the_first_step_shifts_the_axis() -> None:
    series = [1.0, math.nan, 2.0, math.inf, 3.0]
    root = parse(forecast_svg(ChartData("gaps", series, first_step=1000)))
    assert len(line(root, "series")) == 3
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "1000" in labels or "1001" in labels


def test_a_flat_series_still_has_a_vertical_range() -> None:
    root = parse(forecast_svg(ChartData("flat", [2.0] * 20, future=[2.0] * 3)))
    ys = {y for _, y in line(root, "series")}
    assert len(ys) == 1
    assert all(math.isfinite(y) for y in ys)


@given(
    low=st.floats(-1e6, 1e6),
    span=st.floats(1e-6, 1e6),
    count=st.integers(2, 10),
)
def test_nice_ticks_are_round_evenly_spaced_and_inside_the_range(
    low: float, span: float, count: int
) -> None:
    # A range narrower than 1e-8 of its magnitude is below what doubles can tick evenly.
    assume(span > abs(low) * 1e-8)
    high = low + span
    ticks = nice_ticks(low, high, count)
    assert 1 <= len(ticks) <= 2 * count + 2
    tolerance = span * 1e-6
    assert all(low - tolerance <= t <= high + tolerance for t in ticks)
    assert ticks == sorted(ticks)
    if len(ticks) > 1:
        step = (ticks[-1] - ticks[0]) / (len(ticks) - 1)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-4
        # Evenly spaced, to within float rounding of values that may be large next to the step.
        rounding = max(abs(ticks[0]), abs(ticks[-1])) * 1e-12 + step * 1e-9
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert max(gaps) - min(gaps) <= 4 * rounding


@pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (2.0, 1.0), (math.nan, 1.0)])
def test_nice_ticks_of_an_empty_or_invalid_range(low: float, high: float) -> None:
    assert len(nice_ticks(low, high)) <= 1
