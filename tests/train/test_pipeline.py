"""The pipeline factory end to end on a tiny model and the shipped scenarios: the path CLI and TUI share."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from dndtune.errors import DndtuneError
from dndtune.events import DatasetBuilt, Event, ListSink
from dndtune.pipeline import build_pipeline
from dndtune.recipe.loader import parse_recipe
from dndtune.recipe.schema import Recipe

SCENARIOS = Path(__file__).resolve().parents[2] / "training-data"


def recipe(model: Path, out: Path, **train: object) -> Recipe:
    settings = {"max_steps": 4, "batch_size": 2, "grad_accum": 1, "save_steps": 2, "eval_steps": 2,
                "early_stopping_patience": None, "gradient_checkpointing": False, "engine": "trl", **train}
    text = json.dumps({
        "base_model": {"name_or_path": str(model), "dtype": "float32"},
        # Tiny tokenizers spend many tokens per word: the prompt with the tool schema needs room.
        "data": {"scenarios_dir": str(SCENARIOS), "max_seq_length": 2048, "max_per_category": 2,
                 "augment": {"enabled": False}, "eval_fraction": 0.2},
        "lora": {"r": 4, "alpha": 8},
        "train": settings,
        "output": {"dir": str(out), "run_name": "tiny"},
    })
    return parse_recipe(text, source="test-recipe")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNDTUNE_CACHE_DIR", str(tmp_path / "cache"))


def kinds(sink: ListSink) -> list[str]:
    return [e.kind for e in sink.events]


def test_runs_to_a_merged_model_and_records_it(tiny_qwen2: Path, tmp_path: Path) -> None:
    sink = ListSink()
    result = build_pipeline(recipe(tiny_qwen2, tmp_path), sink).run(stages=["merge"])
    assert result.status == "completed"
    assert list(result.stages) == ["doctor", "model", "dataset", "train", "merge"]
    root = tmp_path / "runs" / "tiny"
    assert result.layout.root == root and result.merged == root / "merged" and result.adapter == root / "adapter"
    for kind in ("doctor.engine", "model.resolved", "dataset.stats", "train.labels", "train.step", "train.eval",
                 "train.checkpoint", "merge.done", "pipeline.done"):
        assert kind in kinds(sink), kind

    record = json.loads((root / "run.json").read_text())
    assert record["status"] == "completed" and record["engine"]["name"] == "trl"
    assert record["train"]["step"] == 4 and record["train"]["status"] == "completed"
    assert record["dataset"]["stats"]["train_examples"] > 0 and len(record["dataset"]["hash"]) == 64
    assert record["versions"]["torch"] and record["recipe"]["train"]["max_steps"] == 4
    assert (root / "recipe.yaml").is_file() and (root / "metrics.jsonl").is_file()

    tokenizer = AutoTokenizer.from_pretrained(result.merged)
    model = AutoModelForCausalLM.from_pretrained(result.merged)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "I open the door."}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]

    # Nothing changed: the rerun runs nothing and says since which run.
    frozen = {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}
    again = ListSink()
    rerun = build_pipeline(recipe(tiny_qwen2, tmp_path), again).run(stages=["merge"])
    assert rerun.status == "completed" and rerun.unchanged and "run.unchanged" in kinds(again)
    assert "train.step" not in kinds(again)

    # More steps: a new version continues version 1's last checkpoint; version 1 stays byte for byte.
    longer = ListSink()
    result = build_pipeline(recipe(tiny_qwen2, tmp_path, max_steps=6), longer).run(stages=["merge"])
    assert result.layout.root == tmp_path / "runs" / "tiny-v2"
    assert [e.data["step"] for e in longer.events if e.kind == "train.step"] == [5, 6]
    assert "merge.done" in kinds(longer)
    assert {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()} == frozen


def test_an_edited_scenario_is_the_only_one_parsed_and_measured_again(tiny_qwen2: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "training-data"
    for source in sorted(SCENARIOS.glob("*/*.md"))[:6]:
        target = scenarios / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    settings = recipe(tiny_qwen2, tmp_path / "out")
    settings = settings.model_copy(update={"data": settings.data.model_copy(update={"scenarios_dir": scenarios})})
    first = ListSink()
    build_pipeline(settings, first).run(stages=["dataset"])
    edited = sorted(scenarios.glob("*/*.md"))[0]
    edited.write_text(edited.read_text(encoding="utf-8").replace(" the ", " that ", 1), encoding="utf-8")

    second = ListSink()
    result = build_pipeline(settings, second).run(stages=["dataset"])
    assert result.layout.name == "tiny-v2"
    parsed = [e.message for e in second.events if e.kind == "stage.done" and e.stage == "scenarios"]
    assert parsed and "; 1 parsed, 5 from cache" in parsed[0]
    built = next(e for e in second.events if isinstance(e, DatasetBuilt))
    total = next(e for e in first.events if isinstance(e, DatasetBuilt)).measured
    assert built.measured is not None and total is not None and 0 < built.measured < total


class StopAtStep:
    def __init__(self, stop: threading.Event, step: int) -> None:
        self.stop, self.step, self.sink = stop, step, ListSink()

    def emit(self, event: Event) -> None:
        self.sink.emit(event)
        if event.kind == "train.step" and event.data["step"] == self.step:
            self.stop.set()


def test_stop_event_ends_the_run_with_a_checkpoint_and_a_rerun_resumes(tiny_qwen2: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    watcher = StopAtStep(stop, 1)
    result = build_pipeline(recipe(tiny_qwen2, tmp_path), watcher, stop_event=stop).run(stages=["merge"])
    assert result.status == "stopped" and result.merged is None
    assert result.stages["train"]["status"] == "stopped" and "merge" not in result.stages
    record = json.loads((result.layout.run_json).read_text())
    assert record["status"] == "stopped" and record["train"]["status"] == "stopped"
    assert (result.layout.checkpoints / "checkpoint-2" / "trainer_state.json").is_file()

    sink = ListSink()
    resumed = build_pipeline(recipe(tiny_qwen2, tmp_path), sink).run(stages=["merge"])
    assert resumed.status == "completed"
    assert [e.data["step"] for e in sink.events if e.kind == "train.step"] == [3, 4]


def test_a_stop_before_training_skips_the_remaining_stages(tiny_qwen2: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    result = build_pipeline(recipe(tiny_qwen2, tmp_path), ListSink(), stop_event=stop).run()
    assert result.status == "stopped" and result.stages == {}


def test_plan_pulls_in_what_a_stage_needs(tiny_qwen2: Path, tmp_path: Path) -> None:
    pipeline = build_pipeline(recipe(tiny_qwen2, tmp_path), ListSink())
    assert pipeline.stage_names == ["doctor", "model", "dataset", "train", "merge", "export", "evaluate"]
    assert [s.name for s in pipeline.plan(["train"])] == ["doctor", "model", "dataset", "train"]
    assert [s.name for s in pipeline.plan(["model"])] == ["doctor", "model"]
    with pytest.raises(DndtuneError, match="unknown stage"):
        pipeline.plan(["deploy"])


def test_a_failing_stage_is_recorded(tmp_path: Path) -> None:
    sink = ListSink()
    broken = recipe(tmp_path / "no-such-model", tmp_path)
    with pytest.raises(DndtuneError) as failure:
        build_pipeline(broken, sink).run(stages=["model"])
    record = json.loads((tmp_path / "runs" / "tiny" / "run.json").read_text())
    failed = [name for name, stage in record["stages"].items() if stage["status"] == "failed"]
    assert record["status"] == "failed" and len(failed) == 1
    assert record["error"] == str(failure.value) and "no-such-model" in record["error"]
