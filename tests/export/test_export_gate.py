"""Issue 14 on a tiny run: the recipe's prefer/gate/prune/allow_drift, the task gate, and the one-line failure.

The task gate is the real one (:mod:`dndtune.evaluate.export_gate`: ``dndtune eval`` on the run's
held-out split and ``pick_quant``), run on the memorized tiny Gemma 3 in llama.cpp.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.errors import DndtuneError
from dndtune.evaluate.export_gate import task_gate
from dndtune.events import ListSink
from dndtune.export.predict import predict, read_model_info
from dndtune.export.prune import pruned_info
from dndtune.export.quants import Rung
from dndtune.export.run import export_run
from dndtune.export.targets import target_from_recipe
from dndtune.export.toolchain import Toolchain
from dndtune.pipeline.context import RunContext
from dndtune.pipeline.stages import export_stage
from dndtune.recipe.loader import parse_recipe
from dndtune.recipe.schema import EvaluateSection
from dndtune.runs import RunLayout
from tests.export.conftest import make_run

QUICK_EVAL = EvaluateSection(max_turns=3, max_tokens=48, baseline=False, regression=False)


def _recipe_yaml(target: str) -> str:
    return f"base_model:\n  profile: gemma-3-270m\ntarget:\n{target}evaluate:\n  max_turns: 3\n  max_tokens: 48\n"


def test_prefer_smallest_keeps_the_smallest_file_within_the_gate(memorized_hf: Path, toolchain: Toolchain,
                                                             tmp_path: Path) -> None:
    run = make_run(tmp_path, memorized_hf)
    recipe = parse_recipe(_recipe_yaml("  size_limit: 5MB\n  quant_ladder: [Q8_0, Q5_0, Q4_0+emb=Q4_0]\n"
                                       "  prefer: smallest\n  gate:\n    tolerance: 1.0\n"))
    target = target_from_recipe(recipe.target)
    layout = RunLayout(run)
    events = ListSink()
    result = export_run(layout, target, events, bench=False, task_gate=task_gate(layout, target, QUICK_EVAL))
    m = result.manifest
    # Tolerance 1.0 passes everything: the smallest file is tried first (after the first fit, made
    # to ship if nothing smaller passes) and wins; Q5_0 in between is never evaluated.
    assert m.quant == "Q4_0+emb=Q4_0" and m.token_embedding_type == "Q4_0"
    assert [t.outcome for t in m.ladder] == ["superseded", "not-tried", "chosen"]
    assert set(m.ladder[-1].scores or {}) == {"roll_f1", "exact_skill", "json_validity", "stop_rate"}
    gate = m.gate
    assert gate is not None and gate["prefer"] == "smallest" and gate["tolerance"] == 1.0 and gate["turns"] == 3
    assert gate["reference"]["label"] == "F16" and gate["reference"]["bytes"] > gate["chosen"]["bytes"] == m.bytes
    assert gate["chosen"]["scores"] == m.ladder[-1].scores and gate["chosen"]["passed"]
    assert events.kinds().count("export.gate") == 1
    assert result.as_dict()["gate"] == gate
    assert m.target["prefer"] == "smallest"


def test_a_gate_only_the_first_fit_passes_ships_the_first_fit(memorized_hf: Path, toolchain: Toolchain,
                                                             tmp_path: Path) -> None:
    """Every smaller file fails: each is tried smallest first, then the first fit is judged and ships."""
    run = make_run(tmp_path, memorized_hf)
    recipe = parse_recipe(_recipe_yaml("  size_limit: 5MB\n  quant_ladder: [Q8_0, Q4_0]\n  prefer: smallest\n"
                                       "  gate:\n    scores: [perplexity]\n    tolerance: 0.0\n"))
    target = target_from_recipe(recipe.target)
    layout = RunLayout(run)
    events = ListSink()

    calls: list[str] = []
    real = task_gate(layout, target, QUICK_EVAL)
    assert real is not None

    def strict(candidate: Path, label: str, reference: Path):  # type: ignore[no-untyped-def]
        calls.append(label)
        verdict = real(candidate, label, reference)
        return type(verdict)(**{**verdict.__dict__, "passed": label == "Q8_0",
                                "failures": () if label == "Q8_0" else ("forced",)})

    result = export_run(layout, target, events, bench=False, task_gate=strict)
    assert result.manifest.quant == "Q8_0" and calls == ["Q4_0", "Q8_0"]
    assert [t.outcome for t in result.manifest.ladder] == ["chosen", "gate-failed"]
    assert result.manifest.ladder[1].gate_failures == ["forced"]


def _limit_needing_pruning(f16: Path) -> int:
    info = read_model_info(f16)
    smallest = min(predict(info, Rung.parse(r)).bytes for r in ("Q4_0", "Q4_0+emb=Q4_0"))
    pruned = predict(pruned_info(info, [0]), Rung.parse("Q4_0+emb=Q4_0")).bytes
    assert pruned < smallest
    return (pruned + smallest) // 2


def test_nothing_fits_ends_with_one_line_naming_the_smallest_and_the_field(
        memorized_hf: Path, toolchain: Toolchain, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path, memorized_hf)
    (run / "recipe.yaml").write_text(_recipe_yaml("  size_limit: 100kB\n"), encoding="utf-8")
    assert main(["export", str(run), "--no-bench"]) == 1
    captured = capsys.readouterr()
    # Progress lines are "[export] ..."; the failure is the one other line.
    failure = [line for line in captured.err.splitlines() if not line.startswith("[")]
    assert len(failure) == 1 and "Traceback" not in captured.err + captured.out
    err = failure[0]
    assert "nothing fits target.size_limit 100.00 kB: the smallest reached is Q4_0+emb=Q4_0 at" in err
    assert "raise target.size_limit" in err and "target.prune.allowed: true" in err
    assert not (run / "export").exists()
    assert sorted(p.name for p in (run / "export-work").iterdir()) == ["model-f16.gguf", "model-f16.json"]


def test_recipe_pruning_fallback_fits_within_the_gate(memorized_hf: Path, gemma_f16: Path, toolchain: Toolchain,
                                                      tmp_path: Path) -> None:
    """The pipeline's export stage with a recipe whose ladder cannot fit and whose prune fallback may."""
    run = make_run(tmp_path, memorized_hf)
    limit = _limit_needing_pruning(gemma_f16)
    # The tiny model's vocabulary is too small for an automatic embedding rung: the recipe lists it.
    # A pruned 2-layer toy makes no tool calls, so the gate here only asks that it still stops.
    recipe = parse_recipe(_recipe_yaml(f"  size_limit: {limit}\n  quant_ladder: [Q8_0, Q4_0, Q4_0+emb=Q4_0]\n"
                                       "  prune:\n    allowed: true\n    tolerance: 1000.0\n"
                                       "  gate:\n    scores: [stop_rate]\n    tolerance: 1.0\n"
                                       "  allow_drift: true\n"))
    events = ListSink()
    ctx = RunContext(recipe=recipe, layout=RunLayout(run), events=events, stop_event=threading.Event(),
                     merged=run / "merged")
    result = export_stage(ctx)
    m = result.manifest
    assert m.pruning is not None and len(m.pruning["layers"]) == 1 and m.bytes <= limit
    # The embedding rung came first: the pruned file is the smallest rung, pruned.
    assert m.quant == "Q4_0+emb=Q4_0"
    assert [t.rung for t in m.ladder][:3] == ["Q8_0", "Q4_0", "Q4_0+emb=Q4_0"]
    assert m.ladder[-1].outcome == "chosen" and m.ladder[-1].scores is not None
    assert m.gate is not None and m.gate["chosen"]["label"].endswith("pruned)") and m.gate["chosen"]["passed"]
    assert m.target["allow_drift"] is True
    assert ctx.record["export"]["gate"] == m.gate


def test_pruning_outside_the_task_gate_is_one_line(memorized_hf: Path, gemma_f16: Path, toolchain: Toolchain,
                                                  tmp_path: Path) -> None:
    run = make_run(tmp_path, memorized_hf)
    limit = _limit_needing_pruning(gemma_f16)
    recipe = parse_recipe(_recipe_yaml(f"  size_limit: {limit}\n  quant_ladder: [Q4_0]\n"
                                       "  prune:\n    allowed: true\n    tolerance: 1000.0\n"))
    target = target_from_recipe(recipe.target)
    layout = RunLayout(run)
    real = task_gate(layout, target, QUICK_EVAL)
    assert real is not None

    def never(candidate: Path, label: str, reference: Path):  # type: ignore[no-untyped-def]
        verdict = real(candidate, label, reference)
        return type(verdict)(**{**verdict.__dict__, "passed": False, "failures": ("roll F1 0.000 < 0.500 - 0.020",)})

    with pytest.raises(DndtuneError) as err:
        export_run(layout, target, ListSink(), bench=False, task_gate=never)
    message = str(err.value)
    assert "\n" not in message and "pruning did not help" in message and "outside target.gate" in message
    assert "target.size_limit" in message and not (run / "export").exists()
    assert json.dumps(message)  # plain text
