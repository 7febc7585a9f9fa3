"""Events of the export stage: conversion, the quant ladder, pruning, verification, the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dndtune.events.base import Event


@dataclass(frozen=True, kw_only=True)
class Converting(Event):
    """HF folder -> GGUF starts (``cached``: the existing f16 GGUF is reused instead)."""

    kind: ClassVar[str] = "export.convert"
    stage: str = "export"
    source: str | None = None
    outtype: str | None = None
    cached: bool = False


@dataclass(frozen=True, kw_only=True)
class Converted(Event):
    kind: ClassVar[str] = "export.converted"
    stage: str = "export"
    bytes: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class QuantTried(Event):
    """One rung of the ladder: its predicted and real size, whether it fits, its perplexity."""

    kind: ClassVar[str] = "export.quant_try"
    stage: str = "export"
    quant: str
    predicted_bytes: int | None
    fits: bool | None
    actual_bytes: int | None
    perplexity: float | None
    outcome: str | None
    scores: dict[str, float | None] | None = None
    """The task gate's held-out scores of this rung (``target.prefer: smallest`` or pruning)."""


@dataclass(frozen=True, kw_only=True)
class QuantGated(Event):
    """The task gate's verdict on one file: its held-out scores beside the f16 file's."""

    kind: ClassVar[str] = "export.gate"
    stage: str = "export"
    quant: str
    scores: dict[str, float | None]
    reference_scores: dict[str, float | None]
    passed: bool
    failures: list[str]
    turns: int


@dataclass(frozen=True, kw_only=True)
class PruneRanked(Event):
    kind: ClassVar[str] = "export.prune_rank"
    stage: str = "export"
    layer: int
    perplexity: float


@dataclass(frozen=True, kw_only=True)
class PruneTried(Event):
    kind: ClassVar[str] = "export.prune"
    stage: str = "export"
    layers: list[int]
    ranking: list[dict[str, Any]]
    base_perplexity: float
    perplexity: float | None
    tolerance: float
    passed: bool


@dataclass(frozen=True, kw_only=True)
class NoHeldOut(Event):
    """The run has no held-out conversations: verification uses a built-in exchange, no perplexity."""

    kind: ClassVar[str] = "export.no_eval"
    stage: str = "export"


@dataclass(frozen=True, kw_only=True)
class VerifyChecked(Event):
    kind: ClassVar[str] = "export.verify"
    stage: str = "export"
    rung: str
    check: str
    passed: bool
    required: bool


@dataclass(frozen=True, kw_only=True)
class Benchmarked(Event):
    """The chosen file run as the target would: llama.cpp speed and memory (the manifest keeps the rest)."""

    kind: ClassVar[str] = "export.bench"
    stage: str = "export"
    gen_tps: float
    prompt_tps: float
    peak_rss_bytes: int


@dataclass(frozen=True, kw_only=True)
class ExportDone(Event):
    kind: ClassVar[str] = "export.done"
    stage: str = "export"
    gguf: str
    manifest: str
    quant: str
    bytes: int
    sha256: str
    perplexity: float | None
    gen_tps: float | None
