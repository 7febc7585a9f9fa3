"""A line chart drawn with braille dots: 2x4 dots per terminal cell, several series in colour.

Pure functions of data and size so the chart is tested without a terminal.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

# Bit of each dot inside a braille cell, indexed [row][column] (Unicode braille patterns).
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BRAILLE_BASE = 0x2800


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    style: str


def _bounds(series: Sequence[Series]) -> tuple[float, float, float, float] | None:
    xs = [x for s in series for x, y in s.points if math.isfinite(y)]
    ys = [y for s in series for _x, y in s.points if math.isfinite(y)]
    if not xs:
        return None
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        # A flat line sits in the middle instead of on the bottom edge.
        y0, y1 = y0 - 0.5, y1 + 0.5
    return x0, x1, y0, y1


def _line(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Bresenham: every dot between two dots, so sparse points still read as a curve."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    out = []
    while True:
        out.append((x0, y0))
        if (x0, y0) == (x1, y1):
            return out
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def braille_plot(series: Sequence[Series], width: int, height: int, label_width: int = 6) -> list[Text]:
    """``height`` lines of ``width`` cells: a y-axis label column, then the plot area.

    Later series draw over earlier ones where they share a cell.
    """
    plot_w = max(1, width - label_width - 1)
    lines_out: list[Text] = []
    bounds = _bounds(series)
    if bounds is None or height < 1:
        return [Text(" " * width) for _ in range(max(0, height))]
    x0, x1, y0, y1 = bounds
    dots_w, dots_h = plot_w * 2, height * 4
    cells: dict[tuple[int, int], int] = {}
    owner: dict[tuple[int, int], str] = {}
    for s in series:
        pts = [
            (round((x - x0) / (x1 - x0) * (dots_w - 1)), round((y1 - y) / (y1 - y0) * (dots_h - 1)))
            for x, y in s.points
            if math.isfinite(y)
        ]
        dots = [pts[0]] if len(pts) == 1 else [d for a, b in itertools.pairwise(pts) for d in _line(a, b)]
        for dx, dy in dots:
            cell = (dx // 2, dy // 4)
            cells[cell] = cells.get(cell, 0) | _DOT_BITS[dy % 4][dx % 2]
            owner[cell] = s.style
    for row in range(height):
        if row == 0:
            label = _fmt(y1)
        elif row == height - 1:
            label = _fmt(y0)
        else:
            label = ""
        line = Text(label.rjust(label_width)[:label_width] + "│", style="dim")
        for col in range(plot_w):
            bits = cells.get((col, row))
            if bits is None:
                line.append(" ")
            else:
                line.append(chr(_BRAILLE_BASE + bits), style=owner[(col, row)])
        lines_out.append(line)
    return lines_out


def _fmt(value: float) -> str:
    if value == 0 or 0.01 <= abs(value) < 10000:
        return f"{value:.3g}"
    return f"{value:.1e}"
