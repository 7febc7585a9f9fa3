"""Walk the quant ladder: predict each rung's size, quantize only rungs that can fit, stop at the first fit.

With a quality gate the walk keeps descending past the first fit while held-out DM-turn
perplexity stays within the gate's relative tolerance of that first fit, and keeps the smallest
rung that passed (a smaller file loads and runs faster on a phone when quality holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.events import EventSink, QuantTried
from dndtune.export.manifest import QuantTry
from dndtune.export.predict import ModelInfo, Prediction, embedding_fits, predict
from dndtune.export.quantize import QuantizeResult
from dndtune.export.quants import Rung
from dndtune.gguf.quant_types import EMBEDDING_TYPES
from dndtune.units import format_size

EMBEDDING_SHARE_FOR_RUNGS = 0.25
"""Add embedding rungs when the token embedding holds at least this share of the weights."""

Quantizer = Callable[[Rung], QuantizeResult]
Scorer = Callable[[Path], "float | None"]


class NoFitError(DndtuneError):
    """No rung fits: carries the tries and the smallest prediction, for pruning to start from."""

    def __init__(self, message: str, *, fix: str, tries: list[QuantTry], smallest: Prediction) -> None:
        super().__init__(message, fix=fix)
        self.tries = tries
        self.smallest = smallest


@dataclass
class LadderResult:
    chosen: QuantizeResult
    prediction: Prediction
    tries: list[QuantTry] = field(default_factory=list)
    perplexities: dict[str, float] = field(default_factory=dict)


def expand_ladder(ladder: tuple[Rung, ...] | list[Rung], model: ModelInfo, *,
                  embedding_rungs: bool = True) -> list[Rung]:
    """The ladder, plus rungs that lower the token embedding below what the last rung gives it.

    Only for models whose vocabulary dominates the weights, and only to types the embedding's row
    length allows (an explicit embedding type bypasses llama.cpp's fallback and would abort).
    """
    rungs = list(dict.fromkeys(ladder))
    if not embedding_rungs or not rungs or model.embedding_share() < EMBEDDING_SHARE_FOR_RUNGS:
        return rungs
    last = rungs[-1]
    if last.embedding is not None:
        return rungs
    current = predict(model, last)
    embed_bytes = next((t.bytes for t in current.tensors if t.name == "token_embd.weight"), None)
    if embed_bytes is None:
        return rungs
    for embedding in EMBEDDING_TYPES:
        rung = Rung(last.quant, embedding)
        if rung in rungs or not embedding_fits(model, embedding):
            continue
        smaller = next(t.bytes for t in predict(model, rung).tensors if t.name == "token_embd.weight") < embed_bytes
        if smaller:
            rungs.append(rung)
    return rungs


def walk_ladder(model: ModelInfo, rungs: list[Rung], size_limit: int, quantize: Quantizer, *,
                score: Scorer | None = None, gate: float | None = None,
                events: EventSink, discard: Callable[[Path], None]) -> LadderResult:
    """Choose a rung; every file that is not the choice is passed to ``discard``."""
    tries: list[QuantTry] = []
    perplexities: dict[str, float] = {}
    chosen: tuple[QuantizeResult, Prediction, QuantTry] | None = None
    baseline: float | None = None
    smallest: Prediction | None = None
    for rung in rungs:
        prediction = predict(model, rung)
        if smallest is None or prediction.bytes < smallest.bytes:
            smallest = prediction
        fits = prediction.bytes <= size_limit
        attempt = QuantTry(rung=rung.label, predicted_bytes=prediction.bytes, fits=fits,
                           fallbacks=len(prediction.fallbacks), outcome="skipped")
        tries.append(attempt)
        if not fits:
            _emit(events, attempt, f"{rung.label}: predicted {format_size(prediction.bytes)} > "
                                   f"{format_size(size_limit)}, skipped")
            continue
        result = quantize(rung)
        attempt.actual_bytes = result.bytes
        attempt.quantize_s = result.seconds
        if result.bytes > size_limit:
            attempt.outcome = "too-big"
            _emit(events, attempt, f"{rung.label}: {format_size(result.bytes)} > {format_size(size_limit)}")
            discard(result.path)
            continue
        ppl = score(result.path) if score is not None else None
        attempt.perplexity = ppl
        if ppl is not None:
            perplexities[rung.label] = ppl
        attempt.outcome = "passed"
        _emit(events, attempt, f"{rung.label}: {format_size(result.bytes)} fits"
                               + (f", DM-turn perplexity {ppl:.3f}" if ppl is not None else ""))
        if chosen is None:
            attempt.outcome = "chosen"
            chosen = (result, prediction, attempt)
            baseline = ppl
            if gate is None or baseline is None:
                break
            continue
        assert gate is not None and baseline is not None
        if ppl is not None and ppl <= baseline * (1 + gate):
            discard(chosen[0].path)
            chosen[2].outcome = "superseded"
            attempt.outcome = "chosen"
            chosen = (result, prediction, attempt)
            continue
        attempt.outcome = "gate-failed"
        discard(result.path)
        break
    if chosen is None:
        assert smallest is not None
        raise NoFitError(
            f"no quantization fits the {format_size(size_limit)} limit: the smallest, {smallest.rung.label}, "
            f"is {format_size(smallest.bytes)}",
            fix="pick a smaller base model (base_model.profile: gemma-3-270m or qwen2.5-0.5b), "
                "add smaller types to target.quant_ladder, raise target.size_limit, or try --prune",
            tries=tries, smallest=smallest)
    return LadderResult(chosen=chosen[0], prediction=chosen[1], tries=tries, perplexities=perplexities)


def _emit(events: EventSink, attempt: QuantTry, message: str) -> None:
    events.emit(QuantTried(message=message, quant=attempt.rung, predicted_bytes=attempt.predicted_bytes,
                           fits=attempt.fits, actual_bytes=attempt.actual_bytes, perplexity=attempt.perplexity,
                           outcome=attempt.outcome))
