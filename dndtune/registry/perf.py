"""Inference performance of an exported GGUF on this machine, and warnings against the promoted one.

:func:`measure` loads the file in llama.cpp, generates a fixed number of tokens greedily from
a fixed DM prompt (the first regression case) and records decode tokens/s, prompt tokens/s and
the resident memory the model adds. :func:`warnings_against` compares a candidate version with
the promoted version: slower by more than ``slower``, larger by more than ``larger``, or any
headline score worse than the quality gate's tolerance, a regression-suite case that passed
for the promoted version and fails now, or a mean player rating lower by ``ratings.drop`` points
(weighed only over enough ratings: :mod:`dndtune.registry.compare`). ``dndtune models check
--strict`` exits non-zero on any warning, so a CI job can alert.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from dndtune.dataset.chat import tools
from dndtune.evaluate.gate import Tolerance, within_tolerance
from dndtune.evaluate.llama_runner import LlamaCppRunner
from dndtune.evaluate.regression import load_cases, regressions
from dndtune.evaluate.runner import GenerationSettings
from dndtune.hashing import sha256_file
from dndtune.registry.compare import RatingThresholds, rating_warning
from dndtune.registry.store import PerfRecord
from dndtune.registry.versions import ModelVersion

MEASURE_TOKENS = 64


def machine_label() -> str:
    return f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores"


def measure(gguf: Path, *, tokens: int = MEASURE_TOKENS, n_ctx: int = 2048, source: str = "dndtune") -> PerfRecord:
    import psutil

    process = psutil.Process()
    before = process.memory_info().rss
    runner = LlamaCppRunner(gguf, n_ctx=n_ctx)
    try:
        messages = load_cases()[0].messages()
        out = runner.generate(messages, tools(), GenerationSettings(max_tokens=tokens))
        rss = process.memory_info().rss
    finally:
        runner.close()
    prompt_seconds = (out.seconds - out.decode_seconds) if out.decode_seconds is not None else None
    return PerfRecord(
        sha256=sha256_file(gguf), tokens_per_second=out.tokens_per_second or 0.0,
        prompt_tokens_per_second=(out.prompt_tokens / prompt_seconds) if prompt_seconds else None,
        peak_rss_bytes=max(0, rss - before), size_bytes=gguf.stat().st_size, machine=machine_label(), source=source,
    )


@dataclass(frozen=True)
class Thresholds:
    slower: float = 0.10
    """Relative drop of decode tokens/s that warns (10 %)."""
    larger: float = 0.05
    """Relative growth of file size or memory that warns (5 %)."""
    tolerance: Tolerance = field(default_factory=Tolerance)
    ratings: RatingThresholds = field(default_factory=RatingThresholds)


def warnings_against(candidate: ModelVersion, promoted: ModelVersion, thresholds: Thresholds | None = None
                     ) -> list[str]:
    t = thresholds or Thresholds()
    out: list[str] = []
    cp, pp = candidate.perf, promoted.perf
    if cp is not None and pp is not None:
        same_machine = cp.machine == pp.machine
        if same_machine and cp.tokens_per_second < pp.tokens_per_second * (1 - t.slower):
            out.append(f"slower: {cp.tokens_per_second:.1f} tok/s vs {pp.tokens_per_second:.1f} for {promoted.name}")
        if (same_machine and cp.peak_rss_bytes and pp.peak_rss_bytes
                and cp.peak_rss_bytes > pp.peak_rss_bytes * (1 + t.larger)):
            out.append(f"more memory: {cp.peak_rss_bytes / 1e6:.0f} MB vs {pp.peak_rss_bytes / 1e6:.0f} MB")
    if candidate.size_bytes and promoted.size_bytes and candidate.size_bytes > promoted.size_bytes * (1 + t.larger):
        out.append(f"larger: {candidate.size_bytes / 1e6:.1f} MB vs {promoted.size_bytes / 1e6:.1f} MB")
    new, old = candidate.report, promoted.report
    if new is not None and old is not None:
        check = within_tolerance(old, new, t.tolerance)
        out.extend(f"scores worse: {failure}" for failure in check.failures)
        if new.regression is not None and old.regression is not None:
            broken = regressions(old.regression, new.regression)
            if broken:
                out.append(f"regression suite: {', '.join(broken)} passed for {promoted.name} and fail now")
    rated = rating_warning(candidate.ratings, promoted.name, promoted.ratings, t.ratings)
    if rated is not None:
        out.append(rated)
    return out
