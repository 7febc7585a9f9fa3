"""The task-accuracy gate's contract: a candidate GGUF's held-out scores against the f16 file's.

The export cannot run the evaluator itself (``dndtune.evaluate`` sits above it); the faces and the
pipeline build a :data:`TaskGate` with :func:`dndtune.evaluate.export_gate.task_gate` (``dndtune
eval`` and ``pick_quant``) and hand it to :func:`dndtune.export.run.export_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dndtune.units import format_size

REFERENCE_LABEL = "F16"

SCORE_LABELS = {
    "roll_f1": "roll F1", "exact_skill": "exact skill", "json_validity": "JSON validity", "stop_rate": "stop rate",
    "recall": "roll recall", "precision": "roll precision", "consistency": "uses roll result",
    "in_role_rate": "stays in role", "coherence": "coherence", "perplexity": "DM-turn perplexity",
}
"""The names ``target.gate.scores`` may list and how a line shows them."""


@dataclass(frozen=True)
class GateVerdict:
    """One candidate file against the f16 file on the gated scores."""

    label: str
    scores: dict[str, float | None]
    reference_scores: dict[str, float | None]
    passed: bool
    failures: tuple[str, ...] = ()
    turns: int = 0
    reference_bytes: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


TaskGate = Callable[[Path, str, Path], GateVerdict]
"""``gate(candidate_gguf, label, f16_gguf)``: evaluates both (the f16 once) and compares them."""


def side_by_side(verdict: GateVerdict, candidate_bytes: int | None = None) -> str:
    """``Q4_0 (166 MB) vs F16 (536 MB): roll F1 0.810 vs 0.820, ...`` for logs and summaries."""
    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    size = f" ({format_size(candidate_bytes)})" if candidate_bytes is not None else ""
    ref_size = f" ({format_size(verdict.reference_bytes)})" if verdict.reference_bytes is not None else ""
    pairs = ", ".join(f"{SCORE_LABELS.get(k, k)} {fmt(v)} vs {fmt(verdict.reference_scores.get(k))}"
                      for k, v in verdict.scores.items())
    return f"{verdict.label}{size} vs {REFERENCE_LABEL}{ref_size}: {pairs}"


def gate_lines(gate: dict[str, object] | None) -> list[str]:
    """``model.json``'s ``gate`` as lines: the chosen file's scores beside the f16 file's."""
    if not gate:
        return []
    chosen, reference = gate.get("chosen"), gate.get("reference")
    if not isinstance(chosen, dict) or not isinstance(reference, dict) or not isinstance(chosen.get("scores"), dict):
        return []

    def fmt(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value))

    head = (f"task gate ({gate.get('prefer')}, tolerance {gate.get('tolerance')}, {gate.get('turns')} held-out DM "
            f"turns): {chosen['label']} {format_size(int(chosen['bytes']))} vs {reference['label']} "
            f"{format_size(int(reference['bytes']))}")
    ref_scores = reference.get("scores") if isinstance(reference.get("scores"), dict) else {}
    assert isinstance(ref_scores, dict)
    rows = [f"  {SCORE_LABELS.get(k, k):<18} {fmt(v):>7}  vs {fmt(ref_scores.get(k)):>7}"
            for k, v in chosen["scores"].items()]
    return [head, *rows]
