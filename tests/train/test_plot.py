"""The loss plot: a PNG of the logged curves in their colours, nothing when there is nothing to draw."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from dndtune.train.plot import EVAL, TRAIN, render_loss_plot, write_loss_plot


def decode(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    counted = image.getcolors(image.width * image.height)
    assert counted is not None
    return {colour for _, colour in counted}


def test_curves_are_drawn_in_their_colours() -> None:
    records = [{"step": s, "loss": 3.0 - 0.2 * s} for s in range(1, 11)] + [{"step": 5, "eval_loss": 2.4},
                                                                         {"step": 10, "eval_loss": 1.9}]
    png = render_loss_plot(records, width=320, height=200)
    assert png is not None
    image = decode(png)
    assert image.size == (320, 200)
    assert {TRAIN, EVAL} <= colours(image)


def test_only_the_logged_curves_are_drawn() -> None:
    png = render_loss_plot([{"step": s, "eval_loss": 2.0 / s} for s in range(1, 4)])
    assert png is not None
    drawn = colours(decode(png))
    assert EVAL in drawn and TRAIN not in drawn


def test_nothing_to_draw(tmp_path: Path) -> None:
    assert render_loss_plot([]) is None
    assert render_loss_plot([{"step": 1, "loss": float("nan")}]) is None
    assert write_loss_plot(tmp_path / "missing.jsonl", tmp_path / "loss.png") is None
    assert not (tmp_path / "loss.png").exists()


def test_written_from_metrics_file(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / s}) for s in range(1, 4)) + "\nnot json\n")
    target = write_loss_plot(metrics, tmp_path / "loss.png")
    assert target == tmp_path / "loss.png" and decode(target.read_bytes()).size == (640, 360)
    assert {p.name for p in tmp_path.iterdir()} == {"metrics.jsonl", "loss.png"}  # no temporary file left
