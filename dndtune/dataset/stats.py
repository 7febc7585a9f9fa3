"""Figures about a built dataset: what ``dndtune dataset build`` prints and ``stats.json`` keeps."""

from __future__ import annotations

import math
import statistics

from pydantic import BaseModel, Field


class HistogramBin(BaseModel):
    low: int
    high: int
    """Inclusive upper bound."""
    count: int


class TokenStats(BaseModel):
    min: int
    max: int
    mean: float
    p50: int
    p95: int
    max_seq_length: int
    over_length: int
    """Examples still longer than ``max_seq_length`` (a single round that does not fit)."""
    histogram: list[HistogramBin]


class DatasetStats(BaseModel):
    scenarios: int = 0
    scenarios_per_category: dict[str, int] = Field(default_factory=dict)
    train_scenarios: int = 0
    eval_scenarios: int = 0
    train_examples: int = 0
    eval_examples: int = 0
    train_examples_per_category: dict[str, int] = Field(default_factory=dict)
    augmented_examples: int = 0
    """Training examples that come from augmented copies (after balancing)."""
    augment_invalid: int = 0
    """Augmented copies the validator rejected and that were dropped."""
    augment_duplicates: int = 0
    windowed_conversations: int = 0
    """Conversations split into several examples because they exceeded ``max_seq_length``."""
    turns: int = 0
    """User and DM turns (user and assistant messages) across all examples."""
    tool_results: int = 0
    """Tool messages (TOOLCALL result lines) across all examples."""
    tool_calls: int = 0
    """Roll tool calls across all examples."""
    tokens: TokenStats | None = None


def percentile(sorted_values: list[int], fraction: float) -> int:
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def histogram(values: list[int], bins: int = 8) -> list[HistogramBin]:
    """Equal-width bins over [min, max] with round edges; empty input gives no bins."""
    if not values:
        return []
    low, high = min(values), max(values)
    width = max(1, math.ceil((high - low + 1) / bins))
    out = [HistogramBin(low=low + i * width, high=low + (i + 1) * width - 1, count=0)
           for i in range(math.ceil((high - low + 1) / width))]
    for v in values:
        out[(v - low) // width].count += 1
    return out


def token_stats(lengths: list[int], max_seq_length: int, bins: int = 8) -> TokenStats | None:
    if not lengths:
        return None
    ordered = sorted(lengths)
    return TokenStats(
        min=ordered[0], max=ordered[-1], mean=round(statistics.fmean(ordered), 1),
        p50=percentile(ordered, 0.5), p95=percentile(ordered, 0.95), max_seq_length=max_seq_length,
        over_length=sum(1 for n in ordered if n > max_seq_length), histogram=histogram(ordered, bins),
    )


def histogram_lines(bins: list[HistogramBin], width: int = 30) -> list[str]:
    """Text bars, one per bin: ``  120-179 | ########            12``."""
    if not bins:
        return []
    peak = max(b.count for b in bins) or 1
    label_width = max(len(f"{b.low}-{b.high}") for b in bins)
    lines = []
    for b in bins:
        bar = "#" * round(width * b.count / peak)
        lines.append(f"{f'{b.low}-{b.high}':>{label_width}} | {bar:<{width}} {b.count}")
    return lines
