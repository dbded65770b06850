"""The forecast chart as a self-contained SVG string: no plotting library, no scripts, no styles.

It draws the tutorial's picture: the series, the holdout forecast against the actual values
(the shaded end of the series), and a future forecast with its prediction bands when there are
any. Colours are presentation attributes (no `style`), so a page with a strict Content Security
Policy can inline it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

SERIES_COLOUR = "#1f4e9c"
HOLDOUT_COLOUR = "#c2410c"
FUTURE_COLOUR = "#15803d"
MAX_SERIES_POINTS = 4000  # a longer series is drawn as per-bucket min / max
LEFT, RIGHT, BOTTOM = 64, 16, 44  # margins around the plotting area (axis labels)


@dataclass(frozen=True, slots=True)
class Band:
    """A prediction interval: `level` percent of future values are expected inside."""

    level: float
    lower: Sequence[float]
    upper: Sequence[float]


@dataclass(frozen=True, slots=True)
class ChartData:
    title: str
    series: Sequence[float]
    holdout_forecast: Sequence[float] = ()  # forecasts of the last len(...) series values
    future: Sequence[float] = ()
    bands: Sequence[Band] = ()
    first_step: int = 0  # step number of series[0] (a chart of the last values of a series)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps (step, value) to pixels inside the plotting area."""

    left: float
    top: float
    width: float
    height: float
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, step: float) -> float:
        return self.left + (step - self.x0) / (self.x1 - self.x0) * self.width

    def y(self, value: float) -> float:
        return self.top + (self.y1 - value) / (self.y1 - self.y0) * self.height


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values (steps of 1, 2 or 5 times a power of ten) in [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = [m * magnitude for m in (1, 2, 5, 10)]
    step = next(s for s in steps if s >= raw)
    first = math.ceil(low / step - 1e-9)
    if first * step > high + step * 1e-9:  # a step wider than the range: no tick fits in it
        step = max((s for s in steps if s < step), default=step)  # e.g. 1..400002, count 2
        first = math.ceil(low / step - 1e-9)
    ticks = []
    value_index = first
    while value_index * step <= high + step * 1e-9:
        ticks.append(round(value_index * step, 12))
        value_index += 1
    return ticks


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _points(frame: _Frame, start: int, values: Sequence[float]) -> str:
    """Polyline points; non-finite values are skipped."""
    return " ".join(
        f"{frame.x(start + i):.2f},{frame.y(v):.2f}"
        for i, v in enumerate(values)
        if math.isfinite(v)
    )


def _decimated(frame: _Frame, start: int, values: Sequence[float]) -> str:
    """Points of a long series: the min and max of each bucket, in order, so peaks survive."""
    if len(values) <= MAX_SERIES_POINTS:
        return _points(frame, start, values)
    bucket = math.ceil(len(values) / (MAX_SERIES_POINTS // 2))
    coordinates = []
    for first in range(0, len(values), bucket):
        chunk = [(i, v) for i, v in enumerate(values[first : first + bucket], first)]
        chunk = [(i, v) for i, v in chunk if math.isfinite(v)]
        if not chunk:
            continue
        low, high = min(chunk, key=lambda p: p[1]), max(chunk, key=lambda p: p[1])
        for i, v in sorted({low, high}):
            coordinates.append(f"{frame.x(start + i):.2f},{frame.y(v):.2f}")
    return " ".join(coordinates)


def _label(value: float) -> str:
    return f"{value:.4g}"


def forecast_svg(data: ChartData, *, width: int = 960, height: int = 400) -> str:
    """The chart as an SVG document (UTF-8 text)."""
    n, h, s0 = len(data.series), len(data.future), data.first_step
    values = _finite(data.series) + _finite(data.holdout_forecast) + _finite(data.future)
    for band in data.bands:
        values += _finite(band.lower) + _finite(band.upper)
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.06 or max(1.0, abs(low) * 0.1)
    legend, top = _legend(data, width)
    frame = _Frame(
        left=LEFT,
        top=top,
        width=width - LEFT - RIGHT,
        height=max(40, height - top - BOTTOM),
        x0=s0,
        x1=s0 + max(1, n + h - 1),
        y0=low - pad,
        y1=high + pad,
    )
    holdout = len(data.holdout_forecast)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc" '
        f'font-family="system-ui, sans-serif" font-size="12" data-series-points="{n}" '
        f'data-forecast-points="{h}">',
        f'<title id="chart-title">{escape(data.title)}</title>',
        f'<desc id="chart-desc">{escape(_description(data))}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{frame.left}" y="20" font-size="15" font-weight="600" fill="#111827">'
        f"{escape(data.title)}</text>",
        *legend,
    ]
    parts += _axes(frame)
    if holdout:
        x_start = frame.x(s0 + (n - holdout - 0.5 if n > holdout else 0))
        parts.append(
            f'<rect x="{x_start:.2f}" y="{frame.top}" width="{frame.x(s0 + n - 1) - x_start:.2f}" '
            f'height="{frame.height}" fill="#fde7d7" fill-opacity="0.6" data-role="holdout-area"/>'
        )
    for band in sorted(data.bands, key=lambda b: -b.level):
        parts.append(_band(frame, s0 + n, band))
    parts.append(_line(frame, _decimated(frame, s0, data.series), SERIES_COLOUR, "series", n))
    if holdout:
        points = _points(frame, s0 + n - holdout, data.holdout_forecast)
        parts.append(_line(frame, points, HOLDOUT_COLOUR, "holdout-forecast", holdout, dash="6 4"))
    if h:
        points = _points(frame, s0 + n, data.future)
        parts.append(_line(frame, points, FUTURE_COLOUR, "forecast", h))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _description(data: ChartData) -> str:
    text = f"{len(data.series)} observed values"
    if data.holdout_forecast:
        text += f"; the last {len(data.holdout_forecast)} also forecast from before them"
    if data.future:
        text += f"; a forecast of the next {len(data.future)} values"
    if data.bands:
        text += " with " + " and ".join(f"{b.level:g}%" for b in data.bands) + " bands"
    return text + "."


def _line(frame: _Frame, points: str, colour: str, role: str, count: int, dash: str = "") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.8"'
        f'{dashed} stroke-linejoin="round" data-role="{role}" data-points="{count}"/>'
    )


def _band(frame: _Frame, start: int, band: Band) -> str:
    upper = [(start + i, v) for i, v in enumerate(band.upper) if math.isfinite(v)]
    lower = [(start + i, v) for i, v in enumerate(band.lower) if math.isfinite(v)]
    outline = upper + list(reversed(lower))
    points = " ".join(f"{frame.x(i):.2f},{frame.y(v):.2f}" for i, v in outline)
    opacity = 0.18 if band.level >= 90 else 0.3
    return (
        f'<polygon points="{points}" fill="{FUTURE_COLOUR}" fill-opacity="{opacity}" '
        f'stroke="none" data-role="band" data-level={quoteattr(f"{band.level:g}")}/>'
    )


def _axes(frame: _Frame) -> list[str]:
    bottom = frame.top + frame.height
    parts = [
        f'<rect x="{frame.left}" y="{frame.top}" width="{frame.width}" height="{frame.height}" '
        'fill="none" stroke="#9ca3af"/>'
    ]
    for tick in nice_ticks(frame.y0, frame.y1):
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.left + frame.width}" y1="{y:.2f}" y2="{y:.2f}" '
            'stroke="#e5e7eb"/>'
        )
        parts.append(
            f'<text x="{frame.left - 6}" y="{y + 4:.2f}" text-anchor="end" fill="#374151">'
            f"{_label(tick)}</text>"
        )
    for tick in nice_ticks(frame.x0, frame.x1, count=8):
        x = frame.x(tick)
        parts.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{bottom}" y2="{bottom + 5}" stroke="#6b7280"/>'
        )
        parts.append(
            f'<text x="{x:.2f}" y="{bottom + 18}" text-anchor="middle" fill="#374151">'
            f"{_label(tick)}</text>"
        )
    parts.append(
        f'<text x="{frame.left + frame.width / 2:.2f}" y="{bottom + 36}" text-anchor="middle" '
        'fill="#374151">step</text>'
    )
    return parts


def _legend(data: ChartData, width: int) -> tuple[list[str], float]:
    """Legend entries in rows under the title; returns the parts and the y below them."""
    entries = [("series (actual)", SERIES_COLOUR, "")]
    if data.holdout_forecast:
        entries.append(("holdout forecast", HOLDOUT_COLOUR, "6 4"))
    if data.future:
        entries.append(("forecast", FUTURE_COLOUR, ""))
    if data.bands:
        levels = "/".join(f"{b.level:g}" for b in sorted(data.bands, key=lambda b: b.level))
        entries.append((f"{levels}% bands", FUTURE_COLOUR, "band"))
    parts = []
    x, y = LEFT, 40.0
    for label, colour, dash in entries:
        entry_width = 40 + 7 * len(label)
        if x > LEFT and x + entry_width > width - RIGHT:
            x, y = LEFT, y + 18
        if dash == "band":
            parts.append(
                f'<rect x="{x}" y="{y - 9}" width="22" height="10" fill="{colour}" '
                'fill-opacity="0.3"/>'
            )
        else:
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x}" x2="{x + 22}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
                f'stroke-width="2"{dashed}/>'
            )
        parts.append(f'<text x="{x + 27}" y="{y}" fill="#111827">{escape(label)}</text>')
        x += entry_width
    return parts, y + 14
