"""The board's charts, laid out here and drawn as inline SVG by the templates: no script and no
image request, so they look the same in WeCom's browser, a desktop and headless Chromium, and
need no font but the page's own (the system's Chinese font)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 340, 180
LEFT, RIGHT, TOP, BOTTOM = 34, 12, 16, 30  # room for the axis labels


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: str
    passed: bool
    live: bool


@dataclass(frozen=True)
class Trend:
    width: int
    height: int
    points: tuple[Point, ...]
    pass_y: float
    pass_value: str
    ticks: tuple[tuple[float, str], ...]  # (y, label) of the value axis
    path: str  # the polyline's points

    @property
    def left(self) -> int:
        return LEFT

    @property
    def right(self) -> int:
        return self.width - RIGHT


def trend(points: list[dict], pass_total: Decimal, maximum: Decimal) -> Trend:
    """The weekly totals as a line against the pass line. The value axis starts 10 below the
    lowest of the totals and the pass line (rounded down to 10), so a small change shows."""
    values = [Decimal(p["total"]) for p in points]
    low = min([*values, pass_total]) - 10
    low = max(Decimal(0), (low // 10) * 10)
    high = max(maximum, *values)
    span = (high - low) or Decimal(1)
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM

    def y_of(value: Decimal) -> float:
        return round(TOP + float((high - value) / span) * inner_h, 1)

    step = inner_w / max(1, len(points) - 1)
    laid = []
    for n, (p, value) in enumerate(zip(points, values, strict=True)):
        x = LEFT + (n * step if len(points) > 1 else inner_w / 2)
        laid.append(
            Point(round(x, 1), y_of(value), p["label"], _num(value), p["passed"], p["live"])
        )
    ticks = []
    tick = low
    while tick <= high:
        ticks.append((y_of(tick), _num(tick)))
        tick += 20 if span > 60 else 10 if span > 30 else 5
    return Trend(
        WIDTH,
        HEIGHT,
        tuple(laid),
        y_of(pass_total),
        _num(pass_total),
        tuple(ticks),
        " ".join(f"{p.x},{p.y}" for p in laid),
    )


def share(points, maximum) -> float:
    """A bar's length as a percentage of its row (0–100)."""
    maximum = Decimal(maximum)
    if maximum <= 0:
        return 0.0
    return round(min(100.0, max(0.0, float(Decimal(points) / maximum * 100))), 1)


def _num(value: Decimal) -> str:
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"
