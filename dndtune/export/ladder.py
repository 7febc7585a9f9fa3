"""Walk the quant ladder: predict each rung's size, quantize only rungs that can fit, stop at the first fit.

With a perplexity gate the walk keeps descending past the first fit while held-out DM-turn
perplexity stays within the gate's relative tolerance of that first fit. With a task gate
(``target.prefer: smallest``) the fitting rungs smaller than the first fit are tried smallest
first, and the first whose held-out eval scores stay within the tolerance of the f16 file's wins
(a smaller file loads and runs faster on a phone when quality holds).
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
    With ``gate`` the walk goes on down while DM-turn perplexity stays within the gate of the first
    fit's. With ``accept`` (the task gate, ``prefer: smallest``) see :func:`_smallest_passing`.
    """
    if not rungs:
        raise DndtuneError("no quant type to try: target.quant_ladder is empty after dropping the rungs this model "
                           "cannot take", fix="list at least one type in target.quant_ladder, e.g. Q8_0")
    if accept is not None:
        return _smallest_passing(model, rungs, size_limit, quantize, score=score, gate=gate, accept=accept,
                                 events=events, discard=discard)
    # Predicted as the walk goes: first_fit usually stops at the first rung.
    predicted: list[Prediction] = []
    tries: list[QuantTry] = []
    perplexities: dict[str, float] = {}
    chosen: tuple[QuantizeResult, Prediction, QuantTry] | None = None
    baseline: float | None = None
    for rung in rungs:
        prediction = predict(model, rung)
        predicted.append(prediction)
        attempt = _attempt(rung, prediction, size_limit)
        tries.append(attempt)
        if not attempt.fits:
            _emit_skipped(events, attempt, size_limit)
            continue
        result = _make(rung, attempt, size_limit, quantize, score, perplexities, events, discard)
        if result is None:
            continue
        ppl = attempt.perplexity
        fit_text = _fit_text(attempt, result)
        if chosen is None:
            attempt.outcome = "chosen"
            chosen = (result, prediction, attempt)
            baseline = ppl
            _emit(events, attempt, fit_text)
            if gate is None or baseline is None:
                break
            continue
        too_perplexed = _perplexity_failure(ppl, baseline, gate)
        if too_perplexed is not None:
            attempt.gate_failures = [too_perplexed]
            attempt.outcome = "gate-failed"
            _emit(events, attempt, f"{fit_text}; outside the gate: {attempt.gate_failures[0]}")
            discard(result.path)
            break
        attempt.outcome = "passed"
        if result.bytes < chosen[0].bytes:
            discard(chosen[0].path)
            chosen[2].outcome = "superseded"
            attempt.outcome = "chosen"
            chosen = (result, prediction, attempt)
        else:
            discard(result.path)
        _emit(events, attempt, fit_text + ", within the gate")
    if chosen is None:
        raise _no_fit(size_limit, predicted, tries)
    return LadderResult(chosen=chosen[0], prediction=chosen[1], tries=tries, perplexities=perplexities)


def _smallest_passing(model: ModelInfo, rungs: list[Rung], size_limit: int, quantize: Quantizer, *,
                      score: Scorer | None, gate: float | None, accept: Acceptor, events: EventSink,
                      discard: Callable[[Path], None]) -> LadderResult:
    """``prefer: smallest``: the smallest fitting file within the task gate, tried smallest first.

    The first fit (first_fit's choice) is made first: it ships when no smaller file passes, and its
    perplexity is the ``gate`` baseline. Then the smaller rungs are tried in order of size, and the
    first that passes wins. Walking down the ladder and stopping at the first failure would assume
    quality falls rung by rung; it does not: on Gemma 3 the embedding rungs are 40 % smaller than
    Q4_K_M, K-quants land back on a base model's own grid, and one held-out turn moves a score by
    more than the default tolerance. Smallest first finds the smallest passing file whatever the
    order, and costs one evaluation (and the f16 file's) when the smallest one holds.
    """
    predictions = [(rung, predict(model, rung)) for rung in rungs]
    tries: list[QuantTry] = []
    fitting: list[tuple[Rung, Prediction, QuantTry]] = []
    for rung, prediction in predictions:
        attempt = _attempt(rung, prediction, size_limit)
        tries.append(attempt)
        if attempt.fits:
            fitting.append((rung, prediction, attempt))
        else:
            _emit_skipped(events, attempt, size_limit)
    perplexities: dict[str, float] = {}
    verdicts: list[GateVerdict] = []

    fallback: tuple[QuantizeResult, Prediction, QuantTry] | None = None
    rest: list[tuple[Rung, Prediction, QuantTry]] = []
    for index, (rung, prediction, attempt) in enumerate(fitting):
        result = _make(rung, attempt, size_limit, quantize, score, perplexities, events, discard)
        if result is not None:
            fallback, rest = (result, prediction, attempt), fitting[index + 1:]
            break
    if fallback is None:
        raise _no_fit(size_limit, [p for _, p in predictions], tries)
    baseline = fallback[2].perplexity

    def judge(result: QuantizeResult, attempt: QuantTry) -> list[str]:
        verdict = accept(result)
        verdicts.append(verdict)
        attempt.scores = dict(verdict.scores)
        failures = list(verdict.failures)
        too_perplexed = _perplexity_failure(attempt.perplexity, baseline, gate)
        if too_perplexed is not None:
            failures.append(too_perplexed)
        attempt.gate_failures = failures
        return failures

    for attempt in (a for _, _, a in rest):
        attempt.outcome = "not-tried"
    # Stable sort: rungs of one size keep the ladder's order.
    candidates = sorted((c for c in rest if c[1].bytes < fallback[0].bytes), key=lambda c: c[1].bytes)
    for rung, prediction, attempt in candidates:
        result = _make(rung, attempt, size_limit, quantize, score, perplexities, events, discard)
        if result is None:
            continue
        failures = judge(result, attempt)
        if failures:
            attempt.outcome = "gate-failed"
            _emit(events, attempt, f"{_fit_text(attempt, result)}; outside the gate: {'; '.join(failures)}")
            discard(result.path)
            continue
        attempt.outcome = "chosen"
        fallback[2].outcome = "superseded"
        discard(fallback[0].path)
        _emit(events, attempt, _fit_text(attempt, result) + ", the smallest within the gate")
        return LadderResult(chosen=result, prediction=prediction, tries=tries, perplexities=perplexities,
                            verdicts=verdicts)

    result, prediction, attempt = fallback
    failures = judge(result, attempt)
    attempt.outcome = "chosen"
    if failures:
        _emit(events, attempt, f"{_fit_text(attempt, result)}; outside the gate: {'; '.join(failures)}; "
                               "nothing smaller passed, so the first fit ships", level="warning")
    else:
        _emit(events, attempt, _fit_text(attempt, result) + ", within the gate (nothing smaller passed)")
    return LadderResult(chosen=result, prediction=prediction, tries=tries, perplexities=perplexities,
                        verdicts=verdicts)


def _perplexity_failure(ppl: float | None, baseline: float | None, gate: float | None) -> str | None:
    """Why ``ppl`` is outside the perplexity gate relative to ``baseline`` (None: within it, or not measured)."""
    if gate is None or ppl is None or baseline is None or ppl <= baseline * (1 + gate):
        return None
    return f"DM-turn perplexity {ppl:.3f} > {baseline:.3f} x {1 + gate:.2f}"


def _no_fit(size_limit: int, predicted: list[Prediction], tries: list[QuantTry]) -> NoFitError:
    smallest = min(predicted, key=lambda p: p.bytes)
    return NoFitError(no_fit_message(size_limit, smallest.rung.label, smallest.bytes), fix=NO_FIT_FIX, tries=tries,
                      smallest=smallest)


def _attempt(rung: Rung, prediction: Prediction, size_limit: int) -> QuantTry:
    return QuantTry(rung=rung.label, predicted_bytes=prediction.bytes, fits=prediction.bytes <= size_limit,
                    fallbacks=len(prediction.fallbacks), outcome="skipped")


def _make(rung: Rung, attempt: QuantTry, size_limit: int, quantize: Quantizer, score: Scorer | None,
          perplexities: dict[str, float], events: EventSink, discard: Callable[[Path], None]
          ) -> QuantizeResult | None:
    """Quantize one rung and measure its perplexity; None (file discarded) when it is really too big."""
    result = quantize(rung)
    attempt.actual_bytes = result.bytes
    attempt.quantize_s = result.seconds
    if result.bytes > size_limit:
        attempt.outcome = "too-big"
        _emit(events, attempt, f"{rung.label}: {format_size(result.bytes)} > {format_size(size_limit)}")
        discard(result.path)
        return None
    ppl = score(result.path) if score is not None else None
    attempt.perplexity = ppl
    if ppl is not None:
        perplexities[rung.label] = ppl
    return result


def _fit_text(attempt: QuantTry, result: QuantizeResult) -> str:
    ppl = attempt.perplexity
    return f"{attempt.rung}: {format_size(result.bytes)} fits" + (
        f", DM-turn perplexity {ppl:.3f}" if ppl is not None else "")


def _emit_skipped(events: EventSink, attempt: QuantTry, size_limit: int) -> None:
    _emit(events, attempt, f"{attempt.rung}: predicted {format_size(attempt.predicted_bytes)} > "
                           f"{format_size(size_limit)}, skipped")


NO_FIT_FIX = ("raise target.size_limit, add smaller rungs to target.quant_ladder (e.g. Q4_0+emb=Q4_0), "
              "keep target.embedding_fallback on, or set target.prune.allowed: true")


def no_fit_message(size_limit: int, label: str, size: int) -> str:
    return (f"nothing fits target.size_limit {format_size(size_limit)}: the smallest reached is {label} "
            f"at {format_size(size)}")


def _emit(events: EventSink, attempt: QuantTry, message: str, *, level: Level = "info") -> None:
    events.emit(QuantTried(message=message, level=level, quant=attempt.rung, predicted_bytes=attempt.predicted_bytes,
                           fits=attempt.fits, actual_bytes=attempt.actual_bytes, perplexity=attempt.perplexity,
                           outcome=attempt.outcome, scores=attempt.scores))
