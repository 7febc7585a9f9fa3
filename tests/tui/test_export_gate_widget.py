"""The Export screen's task-gate table reads model.json: every tried file's size and scores beside f16's."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from tui.widgets.export.gate import gate_renderable, read_gate


def test_gate_table_shows_reference_and_every_scored_rung(tmp_path: Path) -> None:
    manifest = tmp_path / "model.json"
    manifest.write_text(json.dumps({
        "gate": {"prefer": "smallest", "scores": ["roll_f1", "exact_skill"], "tolerance": 0.02, "turns": 20,
                 "reference": {"label": "F16", "bytes": 536_000_000, "scores": {"roll_f1": 0.8, "exact_skill": 0.7}},
                 "chosen": {"label": "Q4_0+emb=Q4_0", "bytes": 166_000_000,
                            "scores": {"roll_f1": 0.79, "exact_skill": 0.7}, "passed": True}},
        "ladder": [{"rung": "Q8_0", "actual_bytes": 300_000_000, "outcome": "superseded",
                    "scores": {"roll_f1": 0.8, "exact_skill": 0.7}},
                   {"rung": "Q6_K", "predicted_bytes": 1, "outcome": "skipped"},
                   {"rung": "Q4_0+emb=Q4_0", "actual_bytes": 166_000_000, "outcome": "chosen",
                    "scores": {"roll_f1": 0.79, "exact_skill": 0.7}}]}), encoding="utf-8")
    gate = read_gate(str(manifest))
    assert gate is not None and [t["rung"] for t in gate["ladder"]] == ["Q8_0", "Q4_0+emb=Q4_0"]
    console = Console(width=100, record=True)
    console.print(gate_renderable(gate))
    text = console.export_text()
    assert "smallest, within 0.02 of F16 on 20 held-out turns" in text
    assert "F16" in text and "0.80" in text and "Q4_0+emb=Q4_0" in text and "0.79" in text


def test_no_manifest_or_no_gate_shows_nothing(tmp_path: Path) -> None:
    assert read_gate(None) is None and read_gate(str(tmp_path / "missing.json")) is None
    (tmp_path / "model.json").write_text(json.dumps({"gate": None, "ladder": []}), encoding="utf-8")
    assert read_gate(str(tmp_path / "model.json")) is None and gate_renderable(None) is None
