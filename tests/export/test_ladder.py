"""The ladder walk as pure logic: a synthetic model and a fake quantizer that writes predicted-size files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.export.gate import GateVerdict
from dndtune.export.ladder import expand_ladder, walk_ladder
from dndtune.export.predict import ModelInfo, TensorInfo, predict
from dndtune.export.quantize import QuantizeResult
from dndtune.export.quants import Rung, parse_ladder

LADDER = parse_ladder(["Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q4_K_M", "Q4_0"])


def model(hidden: int = 512, vocab: int = 1024, layers: int = 4) -> ModelInfo:
    tensors = [TensorInfo("token_embd.weight", (hidden, vocab), "F16"),
               TensorInfo("output_norm.weight", (hidden,), "F32")]
    for i in range(layers):
        for name, shape in (("attn_q", (hidden, hidden)), ("attn_k", (hidden, hidden // 4)),
                            ("attn_v", (hidden, hidden // 4)), ("attn_output", (hidden, hidden)),
                            ("ffn_gate", (hidden, 2 * hidden)), ("ffn_up", (hidden, 2 * hidden)),
                            ("ffn_down", (2 * hidden, hidden))):
            tensors.append(TensorInfo(f"blk.{i}.{name}.weight", shape, "F16"))
        tensors.append(TensorInfo(f"blk.{i}.attn_norm.weight", (hidden,), "F32"))
    return ModelInfo(architecture="qwen2", n_layer=layers, n_head=8, n_head_kv=2, tensors=tuple(tensors),
                     meta_bytes=4096, file_bytes=0)


class FakeQuantizer:
    """Writes a file of the predicted size (plus ``extra`` bytes) and records what it was asked for."""

    def __init__(self, info: ModelInfo, root: Path, extra: int = 0) -> None:
        self.info, self.root, self.extra = info, root, extra
        self.calls: list[str] = []

    def __call__(self, rung: Rung) -> QuantizeResult:
        self.calls.append(rung.label)
        size = predict(self.info, rung).bytes + self.extra
        path = self.root / f"{rung.label}.gguf"
        with path.open("wb") as handle:
            handle.truncate(size)
        return QuantizeResult(path=path, rung=rung, bytes=size, seconds=0.0)


def sizes(info: ModelInfo) -> dict[str, int]:
    return {r.label: predict(info, r).bytes for r in LADDER}


def test_stops_at_first_fitting_rung_and_skips_without_quantizing(tmp_path: Path) -> None:
    info = model()
    limit = sizes(info)["Q5_K_M"] + 10
    quantizer, events = FakeQuantizer(info, tmp_path), ListSink()
    result = walk_ladder(info, LADDER, limit, quantizer, events=events, discard=lambda p: p.unlink())
    assert result.chosen.rung.label == "Q5_K_M"
    assert quantizer.calls == ["Q5_K_M"]
    assert [t.outcome for t in result.tries] == ["skipped", "skipped", "chosen"]
    tries = [e.data for e in events.events if e.kind == "export.quant_try"]
    assert tries[0] == {"quant": "Q8_0", "predicted_bytes": sizes(info)["Q8_0"], "fits": False,
                        "actual_bytes": None, "perplexity": None, "outcome": "skipped", "scores": None}
    assert tries[-1]["actual_bytes"] == sizes(info)["Q5_K_M"]


def test_real_size_over_the_limit_moves_on(tmp_path: Path) -> None:
    info = model()
    limit = sizes(info)["Q8_0"] + 10
    quantizer = FakeQuantizer(info, tmp_path, extra=100)
    result = walk_ladder(info, LADDER, limit, quantizer, events=ListSink(), discard=lambda p: p.unlink())
    assert result.tries[0].outcome == "too-big"
    assert result.chosen.rung.label == "Q6_K"
    assert not (tmp_path / "Q8_0.gguf").exists()


def test_none_fits_names_the_smallest_and_the_fix(tmp_path: Path) -> None:
    info = model()
    with pytest.raises(DndtuneError) as err:
        walk_ladder(info, LADDER, 1000, FakeQuantizer(info, tmp_path), events=ListSink(), discard=lambda p: None)
    message = str(err.value)
    assert "nothing fits target.size_limit 1.00 kB: the smallest reached is Q4_0 at " in message
    assert "target.size_limit" in message and "target.prune.allowed" in message and "\n" not in message
    assert not list(tmp_path.iterdir())


def test_gate_keeps_descending_while_perplexity_holds(tmp_path: Path) -> None:
    info = model()
    ppl = {"Q8_0": 10.0, "Q6_K": 10.1, "Q5_K_M": 10.3, "Q5_0": 12.0}
    quantizer = FakeQuantizer(info, tmp_path)
    result = walk_ladder(info, LADDER, 10**12, quantizer, score=lambda p: ppl[p.stem], gate=0.05,
                         events=ListSink(), discard=lambda p: p.unlink())
    assert result.chosen.rung.label == "Q5_K_M"
    assert [t.outcome for t in result.tries] == ["superseded", "superseded", "chosen", "gate-failed"]
    assert result.perplexities == ppl
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Q5_K_M.gguf"]


def test_without_gate_perplexity_is_still_reported(tmp_path: Path) -> None:
    info = model()
    result = walk_ladder(info, LADDER, 10**12, FakeQuantizer(info, tmp_path), score=lambda p: 7.5,
                         events=ListSink(), discard=lambda p: p.unlink())
    assert result.chosen.rung.label == "Q8_0"
    assert result.tries[0].perplexity == 7.5


def test_embedding_rungs_only_for_vocabulary_heavy_models() -> None:
    assert expand_ladder(LADDER, model(vocab=64)) == LADDER
    heavy = model(hidden=640, vocab=200_000, layers=2)
    extra = [r.label for r in expand_ladder(LADDER, heavy)[len(LADDER):]]
    # 640-wide rows cannot take Q6_K blocks; Q8_0 is what Q4_0 already gives the tied embedding.
    assert extra == ["Q4_0+emb=Q5_0", "Q4_0+emb=Q4_0"]
    sizes_ = [predict(heavy, Rung.parse(label)).bytes for label in ["Q4_0", *extra]]
    assert sizes_ == sorted(sizes_, reverse=True)


class FakeGate:
    """A task gate with fixed exact-skill scores per rung (f16 scores 0.80)."""

    def __init__(self, skill: dict[str, float], tolerance: float = 0.02) -> None:
        self.skill, self.tolerance = skill, tolerance
        self.calls: list[str] = []

    def __call__(self, result: QuantizeResult) -> GateVerdict:
        label = result.rung.label
        self.calls.append(label)
        value = self.skill[label]
        failures = () if value >= 0.80 - self.tolerance else (f"exact skill {value:.3f} < 0.800 - 0.020",)
        return GateVerdict(label=label, scores={"exact_skill": value}, reference_scores={"exact_skill": 0.80},
                           passed=not failures, failures=failures, turns=10)


def test_smallest_tries_the_smaller_rungs_smallest_first_and_keeps_the_first_that_passes(tmp_path: Path) -> None:
    info = model()
    size = sizes(info)
    # Q4_0 (the smallest) loses too much; Q4_K_M holds: Q5_0 would pass too, but it is larger.
    gate = FakeGate({"Q6_K": 0.80, "Q5_K_M": 0.60, "Q5_0": 0.80, "Q4_K_M": 0.79, "Q4_0": 0.70})
    events = ListSink()
    quantizer = FakeQuantizer(info, tmp_path)
    result = walk_ladder(info, LADDER, 10**12, quantizer, accept=gate, events=events,
                         discard=lambda p: p.unlink())
    by_size = sorted(LADDER[1:], key=lambda r: size[r.label])
    assert [r.label for r in by_size][:2] == ["Q4_0", "Q4_K_M"]
    assert result.chosen.rung.label == "Q4_K_M"
    # The first fit is made first (it ships if nothing smaller passes) but never evaluated here.
    assert quantizer.calls == ["Q8_0", "Q4_0", "Q4_K_M"] and gate.calls == ["Q4_0", "Q4_K_M"]
    outcomes = {t.rung: t.outcome for t in result.tries}
    assert outcomes == {"Q8_0": "superseded", "Q6_K": "not-tried", "Q5_K_M": "not-tried", "Q5_0": "not-tried",
                        "Q4_K_M": "chosen", "Q4_0": "gate-failed"}
    failed = next(t for t in result.tries if t.rung == "Q4_0")
    assert failed.scores == {"exact_skill": 0.70} and failed.gate_failures == ["exact skill 0.700 < 0.800 - 0.020"]
    assert [v.label for v in result.verdicts] == gate.calls
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Q4_K_M.gguf"]
    assert "smallest within the gate" in events.events[-1].message


def test_smallest_ships_the_first_fit_when_nothing_smaller_passes(tmp_path: Path) -> None:
    info = model()
    gate = FakeGate({label: 0.5 for label in sizes(info)} | {"Q8_0": 0.8})
    events = ListSink()
    result = walk_ladder(info, LADDER, 10**12, FakeQuantizer(info, tmp_path), accept=gate, events=events,
                         discard=lambda p: p.unlink())
    assert result.chosen.rung.label == "Q8_0"
    assert gate.calls[-1] == "Q8_0" and len(gate.calls) == len(LADDER)
    assert [t.outcome for t in result.tries] == ["chosen"] + ["gate-failed"] * (len(LADDER) - 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Q8_0.gguf"]
    assert events.events[-1].level == "info" and "nothing smaller passed" in events.events[-1].message


def test_smallest_ships_the_first_fit_with_a_warning_when_even_it_fails_the_gate(tmp_path: Path) -> None:
    info = model()
    limit = sizes(info)["Q6_K"] + 10
    gate = FakeGate({label: 0.5 for label in sizes(info)})
    events = ListSink()
    result = walk_ladder(info, LADDER, limit, FakeQuantizer(info, tmp_path), accept=gate, events=events,
                         discard=lambda p: p.unlink())
    assert result.chosen.rung.label == "Q6_K" and gate.calls[-1] == "Q6_K" and "Q8_0" not in gate.calls
    assert events.events[-1].level == "warning" and "outside the gate" in events.events[-1].message


def test_smallest_keeps_the_smaller_of_two_passing_files_whatever_the_ladder_order(tmp_path: Path) -> None:
    info = model(hidden=640, vocab=200_000, layers=2)
    ladder = parse_ladder(["Q4_0+emb=Q4_0", "Q8_0"])  # out of size order on purpose
    gate = FakeGate({"Q4_0+emb=Q4_0": 0.8, "Q8_0": 0.8})
    result = walk_ladder(info, ladder, 10**12, FakeQuantizer(info, tmp_path), accept=gate, events=ListSink(),
                         discard=lambda p: p.unlink())
    # Q4_0+emb=Q4_0 is the first fit and the smallest: nothing is smaller to try.
    assert result.chosen.rung.label == "Q4_0+emb=Q4_0" and gate.calls == ["Q4_0+emb=Q4_0"]
    assert [t.outcome for t in result.tries] == ["chosen", "not-tried"]


def test_smallest_skips_a_rung_that_comes_out_over_the_limit(tmp_path: Path) -> None:
    info = model()
    size = sizes(info)
    limit = size["Q8_0"]
    gate = FakeGate({label: 0.8 for label in size})
    quantizer = FakeQuantizer(info, tmp_path, extra=1)  # Q8_0 comes out one byte over; the rest fit
    result = walk_ladder(info, LADDER, limit, quantizer, accept=gate, events=ListSink(), discard=lambda p: p.unlink())
    assert quantizer.calls == ["Q8_0", "Q6_K", "Q4_0"]
    assert [t.outcome for t in result.tries][:2] == ["too-big", "superseded"]
    assert result.chosen.rung.label == "Q4_0"


def test_first_fit_never_calls_the_gate(tmp_path: Path) -> None:
    info = model()
    quantizer = FakeQuantizer(info, tmp_path)
    result = walk_ladder(info, LADDER, 10**12, quantizer, events=ListSink(), discard=lambda p: p.unlink())
    assert result.chosen.rung.label == "Q8_0" and quantizer.calls == ["Q8_0"] and result.verdicts == []


def test_explicit_embedding_rungs_that_do_not_split_the_rows_are_dropped() -> None:
    narrow = model(hidden=48, vocab=200_000, layers=2)  # 48 is not a multiple of Q4_0's 32-wide blocks
    ladder = parse_ladder(["Q8_0", "Q4_0+emb=Q4_0"])
    assert [r.label for r in expand_ladder(ladder, narrow)] == ["Q8_0"]
