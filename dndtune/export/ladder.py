"""Walk the quant ladder: predict each rung's size, quantize only rungs that can fit, stop at the first fit.

With a quality gate the walk keeps descending past the first fit while held-out DM-turn
perplexity stays within the gate's relative tolerance of that first fit, and with a task gate
(``target.prefer: smallest``) while the held-out eval scores stay within the tolerance of the f16
file's; it keeps the smallest rung that passed (a smaller file loads and runs faster on a phone
when quality holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.events import EventSink, Level, QuantTried
from dndtune.export.gate import GateVerdict
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
Acceptor = Callable[[QuantizeResult], GateVerdict]
"""The task gate applied to a quantized file (see :mod:`dndtune.export.gate`)."""


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
    verdicts: list[GateVerdict] = field(default_factory=list)


def expand_ladder(ladder: tuple[Rung, ...] | list[Rung], model: ModelInfo, *,
                  embedding_rungs: bool = True) -> list[Rung]:
    """The ladder, plus rungs that lower the token embedding below what the last rung gives it.

    Only for models whose vocabulary dominates the weights, and only to types the embedding's row
    length allows (an explicit embedding type bypasses llama.cpp's fallback and would abort).
    """
    # An explicit embedding type whose blocks do not divide the rows would abort llama-quantize.
    rungs = [r for r in dict.fromkeys(ladder) if r.embedding is None or embedding_fits(model, r.embedding)]
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
                score: Scorer | None = None, gate: float | None = None, accept: Acceptor | None = None,
                events: EventSink, discard: Callable[[Path], None]) -> LadderResult:
    """Choose a rung; every file that is not the choice is passed to ``discard``.

    Without ``gate`` and ``accept`` the first rung that fits wins (``target.prefer: first_fit``).
    With them the walk goes on down while each fitting rung passes: ``gate`` on DM-turn perplexity
    relative to the first fit, ``accept`` (the task gate, ``prefer: smallest``) on held-out scores
    against the f16 file; the smallest passing file wins and the first failure ends the walk.
    """
    tries: list[QuantTry] = []
    perplexities: dict[str, float] = {}
    chosen: tuple[QuantizeResult, Prediction, QuantTry] | None = None
    baseline: float | None = None
    smallest: Prediction | None = None
    verdicts: list[GateVerdict] = []
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
        failures: list[str] = []
        if accept is not None:
            verdict = accept(result)
            verdicts.append(verdict)
            attempt.scores = dict(verdict.scores)
            failures.extend(verdict.failures)
        if gate is not None and chosen is not None and baseline is not None and ppl is not None \
                and ppl > baseline * (1 + gate):
            failures.append(f"DM-turn perplexity {ppl:.3f} > {baseline:.3f} x {1 + gate:.2f}")
        attempt.gate_failures = failures
        attempt.outcome = "passed"
        fit_text = f"{rung.label}: {format_size(result.bytes)} fits" + (
            f", DM-turn perplexity {ppl:.3f}" if ppl is not None else "")
        if chosen is None:
            attempt.outcome = "chosen"
            chosen = (result, prediction, attempt)
            baseline = ppl
            if failures:
                # The first fit ships as first_fit would, but nothing smaller is tried past a failed gate.
                _emit(events, attempt, f"{fit_text}; outside the gate: {'; '.join(failures)}", level="warning")
                break
            _emit(events, attempt, fit_text)
            if accept is None and (gate is None or baseline is None):
                break
            continue
        if not failures:
            if result.bytes < chosen[0].bytes:
                discard(chosen[0].path)
                chosen[2].outcome = "superseded"
                attempt.outcome = "chosen"
                chosen = (result, prediction, attempt)
            else:
                discard(result.path)
            _emit(events, attempt, fit_text + ", within the gate")
            continue
        attempt.outcome = "gate-failed"
        _emit(events, attempt, f"{fit_text}; outside the gate: {'; '.join(failures)}")
        discard(result.path)
        break
    if chosen is None:
        assert smallest is not None
        raise NoFitError(no_fit_message(size_limit, smallest.rung.label, smallest.bytes),
                         fix=NO_FIT_FIX, tries=tries, smallest=smallest)
    return LadderResult(chosen=chosen[0], prediction=chosen[1], tries=tries, perplexities=perplexities,
                        verdicts=verdicts)


NO_FIT_FIX = ("raise target.size_limit, add smaller rungs to target.quant_ladder (e.g. Q4_0+emb=Q4_0), "
              "keep target.embedding_fallback on, or set target.prune.allowed: true")


def no_fit_message(size_limit: int, label: str, size: int) -> str:
    return (f"nothing fits target.size_limit {format_size(size_limit)}: the smallest reached is {label} "
            f"at {format_size(size)}")


def _emit(events: EventSink, attempt: QuantTry, message: str, *, level: Level = "info") -> None:
    events.emit(QuantTried(message=message, level=level, quant=attempt.rung, predicted_bytes=attempt.predicted_bytes,
                           fits=attempt.fits, actual_bytes=attempt.actual_bytes, perplexity=attempt.perplexity,
                           outcome=attempt.outcome, scores=attempt.scores))
