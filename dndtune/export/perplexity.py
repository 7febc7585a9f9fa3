"""Held-out DM-turn perplexity of a GGUF in llama.cpp: exp(mean NLL of assistant tokens only).

Only the DM's tokens count (system prompts, player lines and tool results are context), so the
figure tracks what the model is for and is comparable across the quants of one run.
"""

from __future__ import annotations

import math
from pathlib import Path

from dndtune.export.process import run_llama_worker
from dndtune.export.reference import ScoredSequence


def dm_perplexity(path: Path, sequences: list[ScoredSequence], *, threads: int) -> float | None:
    if not sequences:
        return None
    longest = max(len(s.tokens) for s in sequences)
    result = run_llama_worker("probe", {
        "model": str(path), "n_ctx": max(512, longest + 8), "n_threads": threads,
        "nll": [{"tokens": s.tokens, "mask": s.mask} for s in sequences],
    }, what=f"scoring {path.name}", path=path)
    total = sum(float(n["nll"]) for n in result["nll"])
    count = sum(int(n["count"]) for n in result["nll"])
    return math.exp(total / count) if count else None
