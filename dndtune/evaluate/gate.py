"""The quality gate: the smallest quant whose scores stay within a tolerance of the fp16 model.

The export loop evaluates the fp16 (or merged HF) model as the reference and every quant of
the ladder with :func:`dndtune.evaluate.evaluate`, then asks :func:`pick_quant` which file to
ship. A candidate passes when none of its headline scores is worse than the reference's by more
than the tolerance: an absolute drop for the 0-1 scores, a relative rise for perplexity. Scores
the reference lacks (no tool turns in the set, say) are not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dndtune.evaluate.report import HEADLINE, EvalReport


@dataclass(frozen=True)
class Tolerance:
    score_drop: float = 0.05
    """Largest allowed absolute drop of a 0-1 score (5 points of recall, say)."""
    perplexity_rise: float = 0.10
    """Largest allowed relative rise of perplexity (10 %)."""
    per_metric: dict[str, float] = field(default_factory=dict)
    """Overrides by headline key (absolute for scores, relative for perplexity)."""

    def allowed(self, key: str) -> float:
        if key in self.per_metric:
            return self.per_metric[key]
        return self.perplexity_rise if HEADLINE[key][1] == "lower" else self.score_drop


@dataclass(frozen=True)
class GateCheck:
    label: str
    size_bytes: int | None
    passed: bool
    failures: tuple[str, ...]


@dataclass(frozen=True)
class GateDecision:
    reference: str
    checks: tuple[GateCheck, ...]
    chosen: str | None
    """Label of the smallest passing candidate, None when none passes."""


def within_tolerance(reference: EvalReport, candidate: EvalReport, tolerance: Tolerance) -> GateCheck:
    ref, cand = reference.headline(), candidate.headline()
    failures: list[str] = []
    for key, (label, direction) in HEADLINE.items():
        base, value = ref[key], cand[key]
        if base is None:
            continue
        if value is None:
            failures.append(f"{label}: not measured")
            continue
        allowed = tolerance.allowed(key)
        if direction == "higher" and value < base - allowed:
            failures.append(f"{label} {value:.3f} < {base:.3f} - {allowed:.3f}")
        elif direction == "lower" and value > base * (1 + allowed):
            failures.append(f"{label} {value:.3f} > {base:.3f} x {1 + allowed:.2f}")
    return GateCheck(label=candidate.model.label, size_bytes=candidate.model.size_bytes,
                     passed=not failures, failures=tuple(failures))


def pick_quant(reference: EvalReport, candidates: Sequence[EvalReport], tolerance: Tolerance | None = None
               ) -> GateDecision:
    tolerance = tolerance or Tolerance()
    checks = tuple(within_tolerance(reference, c, tolerance) for c in candidates)
    passing = [c for c in checks if c.passed]
    # Unknown sizes sort last: a file whose size is unknown cannot be shown to fit a phone.
    passing.sort(key=lambda c: (c.size_bytes is None, c.size_bytes or 0))
    return GateDecision(reference=reference.model.label, checks=checks,
                        chosen=passing[0].label if passing else None)
