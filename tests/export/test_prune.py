"""Structured layer pruning: size prediction of a pruned file, and the gate that keeps or rejects it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.export.predict import predict, read_model_info
from dndtune.export.prune import pruned_info
from dndtune.export.quantize import quantize_gguf
from dndtune.export.quants import Rung
from dndtune.export.run import export_run
from dndtune.export.toolchain import Toolchain
from dndtune.gguf.file import read_gguf
from tests.export.conftest import make_run


@pytest.mark.parametrize("layers", [(0,), (1,)])
def test_pruned_prediction_matches_llama_cpp(gemma_f16: Path, tmp_path: Path, layers: tuple[int, ...]) -> None:
    info = read_model_info(gemma_f16)
    rung = Rung("Q4_K_M")
    prediction = predict(pruned_info(info, layers), rung)
    result = quantize_gguf(gemma_f16, tmp_path / "p.gguf", rung, threads=2, prune_layers=layers)
    assert abs(prediction.bytes - result.bytes) <= 64
    assert {t.name: t.target_type for t in prediction.tensors} == read_gguf(result.path).tensor_types


def _limit_needing_pruning(f16: Path) -> int:
    info = read_model_info(f16)
    # The tiny model's embedding is a small share: the mobile ladder gets no embedding rungs.
    smallest = predict(info, Rung("Q4_0")).bytes
    pruned = predict(pruned_info(info, [0]), Rung("Q4_0")).bytes
    assert pruned < smallest
    return (pruned + smallest) // 2


def test_pruning_is_kept_within_the_gate(memorized_hf: Path, gemma_f16: Path, toolchain: Toolchain,
                                         tmp_path: Path) -> None:
    run = make_run(tmp_path, memorized_hf)
    limit = _limit_needing_pruning(gemma_f16)
    with pytest.raises(DndtuneError, match=r"nothing fits target\.size_limit"):
        export_run(run, "mobile", ListSink(), size_limit=limit, bench=False)
    events = ListSink()
    result = export_run(run, "mobile", events, size_limit=limit, prune=True, gate=1000.0, bench=False)
    pruning = result.manifest.pruning
    assert pruning is not None and len(pruning["layers"]) == 1 and pruning["passed"]
    assert [r["layer"] for r in pruning["ranking"]] in ([0, 1], [1, 0])
    assert result.manifest.bytes <= limit
    assert result.manifest.ladder[-1].outcome == "chosen"
    assert all(c["passed"] for c in result.manifest.verify if c["required"])
    assert "export.prune_rank" in events.kinds() and "export.prune" in events.kinds()


def test_pruning_beyond_the_gate_is_rejected(memorized_hf: Path, gemma_f16: Path, toolchain: Toolchain,
                                             tmp_path: Path) -> None:
    run = make_run(tmp_path, memorized_hf)
    with pytest.raises(DndtuneError, match="pruning did not help") as err:
        export_run(run, "mobile", ListSink(), size_limit=_limit_needing_pruning(gemma_f16), prune=True, gate=0.0,
                   bench=False)
    assert "over the 0% gate" in str(err.value)
    assert not (run / "export").exists()
    assert sorted(p.name for p in (run / "export-work").iterdir()) == ["model-f16.gguf", "model-f16.json"]
