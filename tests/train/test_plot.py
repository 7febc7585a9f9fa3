"""The loss plot: a valid PNG of the logged curves, nothing when there is nothing to draw."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

from dndtune.train.plot import EVAL, TRAIN, render_loss_plot, write_loss_plot


def decode(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw RGB rows (filter type 0, as written) of an 8-bit RGB PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, size = 8, b"", (0, 0)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, body = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02"
        elif kind == b"IDAT":
            data += body
        at += 12 + length
    return size[0], size[1], zlib.decompress(data)


def test_curves_are_drawn_in_their_colours() -> None:
    records = [{"step": s, "loss": 3.0 - 0.2 * s} for s in range(1, 11)] + [{"step": 5, "eval_loss": 2.4},
                                                                         {"step": 10, "eval_loss": 1.9}]
    png = render_loss_plot(records, width=320, height=200)
    assert png is not None
    width, height, raw = decode(png)
    assert (width, height) == (320, 200) and len(raw) == height * (1 + 3 * width)
    assert bytes(TRAIN) in raw and bytes(EVAL) in raw


def test_nothing_to_draw(tmp_path: Path) -> None:
    assert render_loss_plot([]) is None
    assert render_loss_plot([{"step": 1, "loss": float("nan")}]) is None
    assert write_loss_plot(tmp_path / "missing.jsonl", tmp_path / "loss.png") is None
    assert not (tmp_path / "loss.png").exists()


def test_written_from_metrics_file(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / s}) for s in range(1, 4)) + "\nnot json\n")
    target = write_loss_plot(metrics, tmp_path / "loss.png")
    assert target == tmp_path / "loss.png" and decode(target.read_bytes())[:2] == (640, 360)
