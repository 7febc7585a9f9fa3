"""``loss.png``: training and eval loss against steps, drawn without a plotting library.

dndtune does not depend on matplotlib for one chart, so this rasterises the curves itself and
writes a PNG with ``zlib``: blue is the training loss, orange the eval loss (with a dot per
evaluation); the y axis is labelled with its range and the x axis with the last step.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dndtune.atomic import atomic_path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
AXIS: Color = (90, 90, 90)
GRID: Color = (225, 225, 225)
TRAIN: Color = (31, 119, 180)
EVAL: Color = (255, 127, 14)

# 3x5 glyphs for axis labels, one string of 15 bits per character (rows top to bottom).
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "e": "000111111100111", " ": "000000000000000",
}


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            at = 3 * (y * self.width + x)
            self.pixels[at:at + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, width: int = 1) -> None:
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            for ox in range(width):
                for oy in range(width):
                    self.set(x0 + ox, y0 + oy, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def dot(self, x: int, y: int, color: Color, radius: int = 3) -> None:
        for ox in range(-radius, radius + 1):
            for oy in range(-radius, radius + 1):
                if ox * ox + oy * oy <= radius * radius:
                    self.set(x + ox, y + oy, color)

    def text(self, x: int, y: int, text: str, color: Color = AXIS, scale: int = 2) -> None:
        for index, char in enumerate(text):
            bits = _GLYPHS.get(char, _GLYPHS[" "])
            for bit, value in enumerate(bits):
                if value == "1":
                    row, col = divmod(bit, 3)
                    for ox in range(scale):
                        for oy in range(scale):
                            self.set(x + index * 4 * scale + col * scale + ox, y + row * scale + oy, color)

    def png(self) -> bytes:
        rows = b"".join(b"\x00" + bytes(self.pixels[3 * y * self.width:3 * (y + 1) * self.width])
                        for y in range(self.height))

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + \
            chunk(b"IEND", b"")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _series(records: Iterable[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    points: dict[float, float] = {}
    for record in records:
        value, step = record.get(key), record.get("step")
        if isinstance(value, (int, float)) and isinstance(step, (int, float)) and math.isfinite(value):
            points[float(step)] = float(value)  # a resumed run logs a step again: the last one counts
    return sorted(points.items())


def _label(value: float) -> str:
    text = f"{value:.3g}"
    return text if len(text) <= 7 else f"{value:.1e}"


def render_loss_plot(records: Sequence[Mapping[str, Any]], *, width: int = 640, height: int = 360) -> bytes | None:
    """The PNG bytes of the chart, or ``None`` when there is no finite loss to draw."""
    train, evaluation = _series(records, "loss"), _series(records, "eval_loss")
    points = train + evaluation
    if not points:
        return None
    left, right, top, bottom = 64, 16, 16, 36
    low, high = min(v for _, v in points), max(v for _, v in points)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    last_step = max(s for s, _ in points)
    first_step = min(min(s for s, _ in points), 0.0)
    span = max(last_step - first_step, 1.0)
    plot_w, plot_h = width - left - right, height - top - bottom
    canvas = Canvas(width, height)

    def xy(step: float, value: float) -> tuple[int, int]:
        return (left + round((step - first_step) / span * plot_w),
                top + round((high - value) / (high - low) * plot_h))

    for i in range(5):
        y = top + round(i * plot_h / 4)
        canvas.line(left, y, width - right, y, GRID)
    canvas.line(left, top, left, height - bottom, AXIS)
    canvas.line(left, height - bottom, width - right, height - bottom, AXIS)
    canvas.text(4, top, _label(high))
    canvas.text(4, height - bottom - 10, _label(low))
    canvas.text(width - right - 4 * 2 * len(str(int(last_step))), height - bottom + 8, str(int(last_step)))
    canvas.text(left, height - bottom + 8, str(int(first_step)))
    for series, color in ((train, TRAIN), (evaluation, EVAL)):
        coords = [xy(s, v) for s, v in series]
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            canvas.line(x0, y0, x1, y1, color, width=2)
        if color == EVAL or len(coords) == 1:
            for x, y in coords:
                canvas.dot(x, y, color)
    return canvas.png()


def write_loss_plot(metrics: Path, target: Path) -> Path | None:
    """Draw ``metrics.jsonl`` to ``target`` (atomically); ``None`` when there was nothing to draw."""
    image = render_loss_plot(read_metrics(metrics))
    if image is None:
        return None
    with atomic_path(target) as tmp:
        tmp.write_bytes(image)
    return target
