"""The export's task gate as the Export screen shows it: every tried file's size and held-out scores beside f16's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dndtune.export.gate import SCORE_LABELS
from tui.format import size

SHORT = {"roll_f1": "F1", "exact_skill": "skill", "json_validity": "JSON", "stop_rate": "stops",
         "perplexity": "ppl"}


def read_gate(manifest_path: str | None) -> dict[str, Any] | None:
    """``model.json``'s gate and ladder, or None when there is no manifest or no gate in it."""
    if manifest_path is None:
        return None
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    gate = manifest.get("gate") if isinstance(manifest, dict) else None
    if not isinstance(gate, dict):
        return None
    return {**gate, "ladder": [t for t in manifest.get("ladder", []) if isinstance(t, dict) and t.get("scores")]}


def _value(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "–"


def gate_renderable(gate: dict[str, Any] | None) -> RenderableType | None:
    if not gate:
        return None
    keys = [k for k in gate.get("scores", []) if isinstance(k, str)]
    reference = gate.get("reference") or {}
    chosen = gate.get("chosen") or {}
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("file")
    table.add_column("size", justify="right")
    for key in keys:
        table.add_column(SHORT.get(key, SCORE_LABELS.get(key, key)), justify="right")
    ref_scores = reference.get("scores") or {}
    table.add_row(Text(str(reference.get("label", "F16")), style="dim"), size(reference.get("bytes")),
                  *[_value(ref_scores.get(k)) for k in keys])
    for attempt in gate.get("ladder", []):
        scores = attempt.get("scores") or {}
        style = "bold green" if attempt.get("rung") == chosen.get("label") else (
            "yellow" if attempt.get("outcome") == "gate-failed" else "")
        table.add_row(Text(str(attempt.get("rung")), style=style), size(attempt.get("actual_bytes")),
                      *[_value(scores.get(k)) for k in keys])
    head = Text.assemble(("task gate ", "bold"), (f"{gate.get('prefer')}, within {gate.get('tolerance')} of "
                                                  f"{reference.get('label', 'F16')} on {gate.get('turns')} "
                                                  "held-out turns", "dim"))
    return Group(head, table)
