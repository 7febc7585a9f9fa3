"""Export targets: the size budget, quant ladder and runtime settings a file is chosen and profiled for."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Literal

from dndtune.export.quants import Rung, parse_ladder
from dndtune.gguf.quant_types import DESKTOP_LADDER, MOBILE_LADDER

TargetKind = Literal["mobile", "desktop"]



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
    the smallest rung fits, kept only within the quality gate (or 10 %) of the unpruned perplexity."""

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
    """From a recipe's ``target`` section (kind, size_limit, quant_ladder)."""
    base = default_target(section.kind)
    return replace(base, size_limit=int(section.size_limit), ladder=tuple(parse_ladder(list(section.quant_ladder))))
