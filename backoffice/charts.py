"""Charts drawn on the server as SVG geometry: bars for one series, an optional line for another.

The template only places the shapes computed here, so pages need no script and no network.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

WIDTH = 960
HEIGHT = 280
LEFT = 56
RIGHT = 72
TOP = 14
BOTTOM = 34


@dataclass(frozen=True)
class Point:
    label: str
    bar: int | Decimal
    line: int | Decimal | None = None
    title: str = ""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: list[Bar] = field(default_factory=list)
    line_points: str = ""
    line_dots: list[tuple[float, float]] = field(default_factory=list)
    bar_ticks: list[Tick] = field(default_factory=list)
    line_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    empty: bool = True

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def left_label_x(self) -> float:
        return self.left - 6

    @property
    def right_label_x(self) -> float:
        return self.right + 6

    @property
    def x_label_y(self) -> float:
        return self.bottom + 18

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


def nice_ceiling(value: float, ticks: int = 4) -> float:
    """The smallest round number at or above value that divides into `ticks` round steps."""
    if value <= 0:
        return float(ticks)
    step = value / ticks
    magnitude = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        if step <= factor * magnitude:
            return factor * magnitude * ticks
    return 10 * magnitude * ticks


def compact(value: float) -> str:
    """1234 -> 1.2k, 2500000 -> 2.5M; small numbers as they are."""
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.1f}"


def bar_line_chart(
    points: Sequence[Point], *, label_every: int = 1, width: int = WIDTH, height: int = HEIGHT
) -> Chart:
    """Lay out one bar per point (left axis) and, when points have it, a line (right axis)."""
    chart = Chart(width=width, height=height, left=LEFT, right=width - RIGHT, top=TOP, bottom=0)
    chart.bottom = height - BOTTOM
    if not points:
        return chart
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    slot = plot_w / len(points)
    bar_w = max(1.0, slot * 0.72)

    bar_max = nice_ceiling(max(float(p.bar) for p in points))
    has_line = any(p.line is not None for p in points)
    line_max = nice_ceiling(max(float(p.line or 0) for p in points)) if has_line else 0
    chart.empty = not any(p.bar for p in points) and not any(p.line for p in points)

    for index, point in enumerate(points):
        h = plot_h * float(point.bar) / bar_max
        x = chart.left + index * slot + (slot - bar_w) / 2
        chart.bars.append(
            Bar(
                x=round(x, 2),
                y=round(chart.bottom - h, 2),
                width=round(bar_w, 2),
                height=round(h, 2),
                title=point.title,
            )
        )
        last = index == len(points) - 1
        if index % label_every == 0 or last:
            if not last and len(points) - 1 - index < label_every / 2:
                continue
            chart.x_ticks.append(Tick(round(x + bar_w / 2, 2), point.label))

    for step in range(5):
        fraction = step / 4
        y = round(chart.bottom - plot_h * fraction, 2)
        chart.bar_ticks.append(Tick(y, compact(bar_max * fraction)))
        if has_line:
            chart.line_ticks.append(Tick(y, compact(line_max * fraction)))

    if has_line:
        coords = []
        for index, point in enumerate(points):
            x = chart.left + index * slot + slot / 2
            y = chart.bottom - plot_h * float(point.line or 0) / line_max
            coords.append((round(x, 2), round(y, 2)))
        chart.line_points = " ".join(f"{x},{y}" for x, y in coords)
        chart.line_dots = coords if len(coords) <= 31 else []
    return chart
