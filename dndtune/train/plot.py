"""``loss.png``: training and eval loss against steps, drawn with matplotlib.

Blue is the training loss, orange the eval loss (with a dot per evaluation); a resumed run that
logs a step again is drawn with the last value logged for it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dndtune.atomic import atomic_path

Color = tuple[int, int, int]
AXIS: Color = (90, 90, 90)
GRID: Color = (225, 225, 225)
TRAIN: Color = (31, 119, 180)
EVAL: Color = (255, 127, 14)
DPI = 100


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


def _rgb(color: Color) -> tuple[float, float, float]:
    return (color[0] / 255, color[1] / 255, color[2] / 255)


def render_loss_plot(records: Sequence[Mapping[str, Any]], *, width: int = 640, height: int = 360) -> bytes | None:
    """The PNG bytes of the chart (``width`` x ``height`` pixels), or ``None`` when there is no finite loss."""
    train, evaluation = _series(records, "loss"), _series(records, "eval_loss")
    if not train and not evaluation:
        return None
    # The object API, not pyplot: no global figure state, no GUI backend; imported here because
    # matplotlib takes longer to import than the rest of the CLI needs for `--help`.
    from matplotlib.figure import Figure

    # Half a pixel over, so the float size never truncates to one pixel short.
    fig = Figure(figsize=((width + 0.5) / DPI, (height + 0.5) / DPI), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for series, color, label in ((train, TRAIN, "train loss"), (evaluation, EVAL, "eval loss")):
        if not series:
            continue
        steps, values = zip(*series, strict=True)
        # Every eval is a dot; a training curve only when one point would not show as a line.
        dotted = color == EVAL or len(series) == 1
        ax.plot(steps, values, color=_rgb(color), linewidth=2, label=label,
                marker="o" if dotted else None, markersize=5)
    first_step = min(min(s for s, _ in train + evaluation), 0.0)
    ax.set_xlim(left=first_step)
    ax.grid(color=_rgb(GRID))
    ax.set_xlabel("step", color=_rgb(AXIS), fontsize=8)
    ax.set_ylabel("loss", color=_rgb(AXIS), fontsize=8)
    ax.tick_params(colors=_rgb(AXIS), labelsize=7)
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def write_loss_plot(metrics: Path, target: Path) -> Path | None:
    """Draw ``metrics.jsonl`` to ``target`` (atomically); ``None`` when there was nothing to draw."""
    image = render_loss_plot(read_metrics(metrics))
    if image is None:
        return None
    with atomic_path(target) as tmp:
        tmp.write_bytes(image)
    return target
