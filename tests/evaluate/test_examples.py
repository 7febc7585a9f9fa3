from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.dataset.build import build_dataset
from dndtune.dataset.config import DatasetConfig
from dndtune.errors import DndtuneError
from dndtune.evaluate.examples import dm_turns, load_jsonl, load_scenario_folder, party_names
from dndtune.evaluate.targets import resolve_target
from dndtune.events import NullSink
from dndtune.runs import find_run
from tests.evaluate.models import TinyModels, make_run
from tests.evaluate.samples import roll_conversation

ROOT = Path(__file__).resolve().parents[2]


def test_dm_turns_carry_expected_calls_and_results() -> None:
    from dndtune.evaluate.examples import EvalExample

    turns = dm_turns(EvalExample(messages=roll_conversation(), tools=[], source="s"))
    assert [t.index for t in turns] == [2, 4, 6]
    ask, narrate, plain = turns
    assert [(c.skill, c.character) for c in ask.expected_calls] == [("perception", "Mira")]
    assert not ask.after_result and narrate.after_result and narrate.results[0]["outcome"] == "success"
    assert plain.expected_calls == () and not plain.after_result
    assert ask.party == ["Mira Vale", "Borin Stonefist"]
    assert "skeletons" in narrate.context_text and "skeletons" not in narrate.conversation_text


def test_eval_split_written_by_the_dataset_stage_loads(tmp_path: Path) -> None:
    config = DatasetConfig(scenarios_dir=ROOT / "training-data", output_dir=tmp_path / "dataset",
                           augment_enabled=False, eval_fraction=0.2)
    result = build_dataset(config, NullSink())
    examples = load_jsonl(result.jsonl_paths["eval"])
    assert len(examples) == result.stats.eval_examples > 0
    turns = [t for e in examples for t in dm_turns(e)]
    assert any(t.expected_calls for t in turns) and any(t.after_result for t in turns)


def test_scenario_folder_is_an_eval_set() -> None:
    folder = ROOT / "training-data" / "combat"
    examples = load_scenario_folder([folder], NullSink())
    assert len(examples) == len(list(folder.glob("*.md"))) and all(e.tools for e in examples)
    assert party_names(examples[0].messages)


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"),
    ("{not json\n", "not valid JSON"),
    (json.dumps({"tools": []}) + "\n", "no \"messages\" list"),
])
def test_bad_eval_files_name_the_line_and_the_fix(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(content)
    with pytest.raises(DndtuneError, match=message):
        load_jsonl(path)


def test_targets_resolve_runs_files_and_names(tiny: TinyModels, tmp_path: Path) -> None:
    run = make_run(tmp_path, tiny, "alpha")
    by_path = resolve_target(run)
    assert by_path.model.suffix == ".gguf" and by_path.run is not None and by_path.run.root == run
    assert resolve_target("alpha", tmp_path).model == by_path.model
    assert resolve_target(run, prefer="hf").model == run / "merged"
    loose = resolve_target(by_path.model)
    assert loose.run is not None and loose.run.root == run
    assert resolve_target(tiny.hf).run is None
    assert find_run("alpha", tmp_path).eval_split == run / "dataset" / "eval.jsonl"
    with pytest.raises(DndtuneError, match="no such run"):
        resolve_target("nope", tmp_path)
