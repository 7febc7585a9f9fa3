"""Export targets: the size budget, quant ladder and runtime settings a file is chosen and profiled for."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Literal

from dndtune.export.quants import Rung, parse_ladder
from dndtune.gguf.quant_types import DESKTOP_LADDER, MOBILE_LADDER
from dndtune.recipe.schema import GateSection

TargetKind = Literal["mobile", "desktop"]
Prefer = Literal["first_fit", "smallest"]

_GATE = GateSection()
DEFAULT_GATE_SCORES: tuple[str, ...] = tuple(_GATE.scores)
DEFAULT_GATE_TOLERANCE: float = _GATE.tolerance


@dataclass(frozen=True)
class ExportTarget:
    kind: TargetKind
    size_limit: int
    """Largest GGUF accepted, in bytes (decimal units: "2GB" is 2e9, as phones label storage)."""
    ladder: tuple[Rung, ...]
    n_ctx: int
    """Context length the performance profile is measured at (the app's default on that device)."""
    threads: int
    """Threads the profile uses (a phone's big cores); capped at this machine's cores when measuring."""
    embedding_rungs: bool = True
    """Append rungs that lower the token embedding when the vocabulary dominates the file."""
    quality_gate: float | None = None
    """Keep descending past the first fitting rung while DM-turn perplexity stays within this
    relative tolerance of that rung's (0.05 = 5 %); None stops at the first fit."""
    prune: bool = False
    """When no rung fits, drop the transformer blocks that matter least on held-out DM turns until
    the smallest rung fits, kept only within ``prune_tolerance`` (else the quality gate, else 10 %)
    of the unpruned perplexity and, when a task gate is given, within the task gate."""
    prune_tolerance: float | None = None
    prefer: Prefer = "first_fit"
    """``smallest``: keep descending while the task gate (held-out eval scores vs the f16 file) passes."""
    gate_scores: tuple[str, ...] = DEFAULT_GATE_SCORES
    gate_tolerance: float = DEFAULT_GATE_TOLERANCE
    gate_max_turns: int | None = None
    """Held-out DM turns each candidate is evaluated on (None: the evaluate section's ``max_turns``)."""
    allow_drift: bool = False

    def measure_threads(self) -> int:
        return max(1, min(self.threads, os.cpu_count() or 1))

    def with_overrides(self, **changes: Any) -> ExportTarget:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def default_target(kind: TargetKind = "mobile") -> ExportTarget:
    if kind == "desktop":
        return ExportTarget(kind="desktop", size_limit=8 * 10**9, ladder=tuple(parse_ladder(DESKTOP_LADDER)),
                            n_ctx=4096, threads=8)
    return ExportTarget(kind="mobile", size_limit=2 * 10**9, ladder=tuple(parse_ladder(MOBILE_LADDER)),
                        n_ctx=2048, threads=4)


def target_from_recipe(section: Any) -> ExportTarget:
    """From a recipe's ``target`` section (``dndtune.recipe.schema.TargetSection``)."""
    base = default_target(section.kind)
    return replace(base, size_limit=int(section.size_limit), ladder=tuple(parse_ladder(list(section.quant_ladder))),
                   prefer=section.prefer, gate_scores=tuple(section.gate.scores),
                   gate_tolerance=float(section.gate.tolerance), gate_max_turns=section.gate.max_turns,
                   embedding_rungs=bool(section.embedding_fallback), prune=bool(section.prune.allowed),
                   prune_tolerance=float(section.prune.tolerance), allow_drift=bool(section.allow_drift))
