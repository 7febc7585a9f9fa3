"""Structured layer pruning for when even the smallest quant does not fit.

Each transformer block is scored by the held-out DM-turn perplexity of the model without it
(quantized at the rung being pruned, so the score includes the quantization it will ship with);
blocks whose removal hurts least go first, until the predicted size fits. The pruned file is kept
only if its perplexity stays within the gate's tolerance of the unpruned file's. llama.cpp's
quantizer does the removal itself (``prune_layers``: the blocks are dropped and the rest
renumbered), so the result is an ordinary GGUF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dndtune.events import EventSink, PruneRanked, PruneTried
from dndtune.export.predict import ModelInfo, TensorInfo, predict
from dndtune.export.quantize import QuantizeResult
from dndtune.export.quants import Rung

DEFAULT_TOLERANCE = 0.10
"""Relative perplexity increase a pruned model may show when no quality gate is given."""

QuantizeWithPrune = Callable[[Rung, tuple[int, ...], str], QuantizeResult]
Score = Callable[[Path], "float | None"]


@dataclass
class PruneResult:
    layers: tuple[int, ...]
    ranking: list[tuple[int, float]]
    """(layer, perplexity without it), least important first."""
    base_perplexity: float
    perplexity: float
    tolerance: float
    passed: bool
    result: QuantizeResult | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, object]:
        return {"layers": list(self.layers), "ranking": [{"layer": i, "perplexity": p} for i, p in self.ranking],
                "base_perplexity": self.base_perplexity, "perplexity": self.perplexity,
                "tolerance": self.tolerance, "passed": self.passed}


def pruned_info(model: ModelInfo, layers: Sequence[int]) -> ModelInfo:
    """The model as llama.cpp's quantizer writes it with ``layers`` dropped and later blocks renumbered.

    ``n_layer`` stays the original: the quantizer sizes its ``ffn_down`` layer schedule from the
    input file's block count.
    """
    dropped = set(layers)
    keep = [i for i in range(model.n_layer) if i not in dropped]
    renumber = {old: new for new, old in enumerate(keep)}
    tensors: list[TensorInfo] = []
    removed_info = added_info = 0
    for tensor in model.tensors:
        layer = tensor.layer
        if layer in dropped:
            removed_info += _info_bytes(tensor)
            continue
        if layer >= 0 and renumber[layer] != layer:
            renamed = replace(tensor, name=f"blk.{renumber[layer]}.{tensor.name.split('.', 2)[2]}")
            removed_info += _info_bytes(tensor)
            added_info += _info_bytes(renamed)
            tensor = renamed
        tensors.append(tensor)
    meta = model.meta_bytes - removed_info + added_info
    return replace(model, tensors=tuple(tensors), meta_bytes=(meta + 31) // 32 * 32)


def _info_bytes(tensor: TensorInfo) -> int:
    # GGUF tensor info: name (u64 length + bytes), n_dims (u32), dims (u64 each), type (u32), offset (u64).
    return 8 + len(tensor.name.encode()) + 4 + 8 * len(tensor.shape) + 4 + 8


def rank_layers(model: ModelInfo, rung: Rung, quantize: QuantizeWithPrune, score: Score, *,
                events: EventSink, discard: Callable[[Path], None]) -> list[tuple[int, float]]:
    ranking: list[tuple[int, float]] = []
    for layer in range(model.n_layer):
        result = quantize(rung, (layer,), f"drop{layer}")
        try:
            ppl = score(result.path)
        finally:
            discard(result.path)
        if ppl is None:
            continue
        ranking.append((layer, ppl))
        events.emit(PruneRanked(message=f"without layer {layer}: DM-turn perplexity {ppl:.3f}", layer=layer,
                                perplexity=ppl))
    return sorted(ranking, key=lambda item: item[1])


def prune_to_fit(model: ModelInfo, rung: Rung, size_limit: int, quantize: QuantizeWithPrune, score: Score, *,
                 tolerance: float, events: EventSink, discard: Callable[[Path], None]) -> PruneResult | None:
    """Drop the least important layers until ``rung`` fits; None when no number of layers makes it fit
    (or there is nothing to score with). The returned file is kept only when ``passed``."""
    base = quantize(rung, (), "base")
    try:
        base_ppl = score(base.path)
    finally:
        discard(base.path)
    if base_ppl is None:
        return None
    ranking = rank_layers(model, rung, quantize, score, events=events, discard=discard)
    dropped: list[int] = []
    for layer, _ in ranking[:-1]:  # a model needs at least one block
        dropped.append(layer)
        if predict(pruned_info(model, dropped), rung).bytes <= size_limit:
            break
    else:
        return None
    layers = tuple(sorted(dropped))
    result = quantize(rung, layers, "pruned")
    ppl = score(result.path)
    passed = ppl is not None and ppl <= base_ppl * (1 + tolerance) and result.bytes <= size_limit
    outcome = PruneResult(layers=layers, ranking=ranking, base_perplexity=base_ppl, perplexity=ppl or float("inf"),
                          tolerance=tolerance, passed=passed, result=result if passed else None)
    events.emit(PruneTried(message=f"dropping layers {list(layers)}: {result.bytes / 1e6:.1f} MB, perplexity "
                           f"{base_ppl:.3f} -> {outcome.perplexity:.3f} ({'kept' if passed else 'rejected'}, "
                           f"tolerance {tolerance:.0%})", level="info" if passed else "warning",
                           layers=list(outcome.layers),
                           ranking=[{"layer": i, "perplexity": p} for i, p in outcome.ranking],
                           base_perplexity=outcome.base_perplexity, perplexity=outcome.perplexity,
                           tolerance=outcome.tolerance, passed=outcome.passed))
    if not passed:
        discard(result.path)
    return outcome
