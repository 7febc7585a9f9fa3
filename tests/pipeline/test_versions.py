"""Issue 13: reruns after an edit write a new version, completed versions are frozen, nothing changed runs nothing.

The pipeline runs here with stand-in stages (no model): the version choice, the records and the
registry are what is under test. The tiny-model path (re-parse one file, continue a checkpoint)
is in tests/train/test_pipeline.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.events import ListSink, RunUnchanged, RunVersion
from dndtune.hashing import sha256_file
from dndtune.pipeline import RunContext, Stage, build_pipeline
from dndtune.pipeline.inputs import changes_between, recipe_diff, run_inputs
from dndtune.pipeline.plan import stage_actions
from dndtune.pipeline.versions import VersionChoice, choose_version
from dndtune.recipe.loader import parse_recipe
from dndtune.recipe.schema import Recipe
from dndtune.registry import Registry, promote, rollback
from dndtune.runs import RunFamily, RunLayout
from tests.fixtures.gguf_files import fake_gguf

SCENARIO = "# Scenario\n\n## System\n{body}\n"


def recipe_for(out: Path, scenarios: Path, **train: object) -> Recipe:
    return parse_recipe(json.dumps({"base_model": {"profile": "gemma-3-270m"},
                                    "data": {"scenarios_dir": str(scenarios)},
                                    "train": {"max_steps": 10, **train},
                                    "output": {"dir": str(out), "run_name": "r"}}))


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    root = tmp_path / "training-data"
    for name in ("combat/goblins.md", "social/tavern.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(SCENARIO.format(body=name))
    return root


def dataset(ctx: RunContext) -> None:
    ctx.layout.dataset.mkdir(parents=True, exist_ok=True)
    (ctx.layout.dataset / "train.jsonl").write_text("data\n")


def export(ctx: RunContext) -> None:
    """What the export stage leaves: a GGUF, its manifest and the run.json section with its digest."""
    gguf = fake_gguf(ctx.layout.export / f"{ctx.layout.name}-F16.gguf", seed=float(len(ctx.layout.name)))
    sha = sha256_file(gguf)
    ctx.layout.manifest.write_text(json.dumps({"file": gguf.name, "quant": "F16", "sha256": sha,
                                               "bytes": gguf.stat().st_size}))
    ctx.record["export"] = {"gguf": str(gguf), "sha256": sha, "bytes": gguf.stat().st_size, "quant": "F16"}


STAGES = [Stage("dataset", dataset, "stand-in"), Stage("export", export, "stand-in", needs=("dataset",))]


def run(recipe: Recipe, sink: ListSink | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return build_pipeline(recipe, sink or ListSink(), stages=STAGES, **kwargs).run()  # type: ignore[arg-type]


def files(layout: RunLayout) -> dict[str, bytes]:
    return {str(p.relative_to(layout.root)): p.read_bytes() for p in sorted(layout.root.rglob("*")) if p.is_file()}


def test_the_first_run_is_version_1_in_the_run_name_folder(tmp_path: Path, scenarios: Path) -> None:
    sink = ListSink()
    result = run(recipe_for(tmp_path / "out", scenarios), sink)
    assert result.layout.root == tmp_path / "out" / "runs" / "r"
    record = json.loads(result.layout.run_json.read_text())
    assert record["family"] == "r" and record["version"] == 1 and len(record["inputs"]["digest"]) == 64
    assert [e.reason for e in sink.events if isinstance(e, RunVersion)] == ["first"]


def test_nothing_changed_runs_nothing_and_says_since_which_run(tmp_path: Path, scenarios: Path) -> None:
    first = run(recipe_for(tmp_path / "out", scenarios))
    before = files(first.layout)
    sink = ListSink()
    again = run(recipe_for(tmp_path / "out", scenarios), sink)
    assert again.unchanged and again.layout == first.layout and files(first.layout) == before
    unchanged = [e for e in sink.events if isinstance(e, RunUnchanged)]
    assert len(unchanged) == 1 and "nothing changed since run r" in unchanged[0].message
    assert not any(e.kind == "pipeline.stage" for e in sink.events)


def test_an_edited_scenario_writes_version_2_and_leaves_version_1_byte_identical(tmp_path: Path,
                                                                                scenarios: Path) -> None:
    first = run(recipe_for(tmp_path / "out", scenarios))
    before = files(first.layout)
    (scenarios / "combat" / "goblins.md").write_text(SCENARIO.format(body="more goblins"))
    (scenarios / "social" / "new.md").write_text(SCENARIO.format(body="new"))
    sink = ListSink()
    second = run(recipe_for(tmp_path / "out", scenarios), sink)
    assert second.layout.root == tmp_path / "out" / "runs" / "r-v2"
    assert files(first.layout) == before
    version = next(e for e in sink.events if isinstance(e, RunVersion))
    assert version.reason == "new" and version.previous == "r" and version.version == 2
    assert version.changes is not None and version.changes["edited"] == ["combat/goblins.md"]
    assert version.changes["added"] == ["social/new.md"]
    record = json.loads(second.layout.run_json.read_text())
    assert record["changes"]["since"] == "r" and "1 scenario edited (combat/goblins.md)" in record["changes"]["summary"]
    assert [v for v, _ in RunFamily.under(tmp_path / "out", "r").versions()] == [1, 2]


def test_a_recipe_change_is_named_field_by_field(tmp_path: Path, scenarios: Path) -> None:
    run(recipe_for(tmp_path / "out", scenarios))
    old = run_inputs(recipe_for(tmp_path / "out", scenarios))
    new = run_inputs(recipe_for(tmp_path / "out", scenarios, max_steps=20))
    changes = changes_between(old, new)
    assert changes.recipe == ["train.max_steps: 10 -> 20"] and not changes.edited
    assert recipe_diff({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}) == ["a.c: default -> 2"]
    assert recipe_diff({"a": {"c": None}}, {}) == ["a.c: null -> default"]


def test_an_unfinished_version_is_continued_in_place(tmp_path: Path, scenarios: Path) -> None:
    def stops(ctx: RunContext) -> None:
        raise KeyboardInterrupt

    stages = [Stage("dataset", dataset, "stand-in"), Stage("export", stops, "stand-in", needs=("dataset",))]
    with pytest.raises(KeyboardInterrupt):
        build_pipeline(recipe_for(tmp_path / "out", scenarios), ListSink(), stages=stages).run()
    sink = ListSink()
    result = run(recipe_for(tmp_path / "out", scenarios), sink)
    assert result.layout.name == "r" and result.status == "completed"
    assert [e.reason for e in sink.events if isinstance(e, RunVersion)] == ["resume"]


def test_no_resume_after_a_completed_run_is_a_new_version(tmp_path: Path, scenarios: Path) -> None:
    first = run(recipe_for(tmp_path / "out", scenarios))
    before = files(first.layout)
    fresh = run(recipe_for(tmp_path / "out", scenarios), resume=False)
    assert fresh.layout.name == "r-v2" and files(first.layout) == before


def test_a_run_named_like_a_version_is_not_taken_for_one(tmp_path: Path, scenarios: Path) -> None:
    recipe = recipe_for(tmp_path / "out", scenarios)
    other = recipe.model_copy(update={"output": recipe.output.model_copy(update={"run_name": "r-v2"})})
    run(other)
    assert RunFamily.under(tmp_path / "out", "r").versions() == []
    assert run(recipe).layout.name == "r"


def test_a_promoted_version_is_untouched_by_reruns_and_recorded_in_the_registry(tmp_path: Path,
                                                                                scenarios: Path) -> None:
    out = tmp_path / "out"
    first = run(recipe_for(out, scenarios))
    gguf = next(first.layout.export.glob("*.gguf"))
    promote(out, "r")
    before = files(first.layout)
    state = Registry(out).read()
    assert state.versions["r"].sha256 == sha256_file(gguf) and state.versions["r"].version == 1

    assert run(recipe_for(out, scenarios)).unchanged
    (scenarios / "combat" / "goblins.md").write_text(SCENARIO.format(body="edited"))
    second = run(recipe_for(out, scenarios))
    assert second.layout.name == "r-v2" and files(first.layout) == before

    # Outputs of a frozen version deleted: the rerun makes a new version rather than rewrite it.
    shutil.rmtree(second.layout.export)
    third = run(recipe_for(out, scenarios))
    assert third.layout.name == "r-v3"
    assert Registry(out).read().versions["r-v2"].changes is not None


def test_rollback_refuses_a_version_whose_file_changed_after_it_completed(tmp_path: Path, scenarios: Path) -> None:
    out = tmp_path / "out"
    run(recipe_for(out, scenarios))
    (scenarios / "combat" / "goblins.md").write_text(SCENARIO.format(body="edited"))
    second = run(recipe_for(out, scenarios))
    promote(out, "r")
    promote(out, "r-v2")
    gguf = next(RunFamily.under(out, "r").layout(1).export.glob("*.gguf"))
    fake_gguf(gguf, seed=99.0)  # someone re-exported version 1 in place
    with pytest.raises(Exception, match="not the file the registry recorded"):
        rollback(out)
    assert Registry(out).read().promoted == second.layout.name


def test_models_list_says_what_changed_between_versions(tmp_path: Path, scenarios: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run(recipe_for(out, scenarios))
    (scenarios / "combat" / "goblins.md").write_text(SCENARIO.format(body="edited"))
    run(recipe_for(out, scenarios))
    assert main(["models", "--output", str(out), "list", "--format", "json"]) == 0
    text = capsys.readouterr().out
    listed = {v["name"]: v for v in json.loads(text)}
    assert listed["r-v2"]["changes"].startswith("since r: 1 scenario edited") and listed["r"]["changes"] is None


def test_dry_run_says_per_stage_whether_it_runs_or_reuses_and_why(tmp_path: Path, scenarios: Path) -> None:
    out = tmp_path / "out"
    first = run(recipe_for(out, scenarios))
    family = RunFamily.under(out, "r")
    same = run_inputs(recipe_for(out, scenarios))
    unchanged = stage_actions(VersionChoice(1, first.layout, "unchanged", previous=first.layout), same)
    assert set(unchanged.values()) == {"reuse (nothing changed since r)"}

    # Only evaluation settings changed: the adapter and merged model of r are reused, the rest runs.
    recipe = recipe_for(out, scenarios)
    other = recipe.model_copy(update={"evaluate": recipe.evaluate.model_copy(update={"max_turns": 5})})
    choice = choose_version(family, run_inputs(other), resume=None, stages=["dataset"], frozen=lambda _: True)
    actions = stage_actions(choice, run_inputs(other))
    assert choice.reason == "new" and actions["train"].startswith("reuse (the adapter of r")
    assert actions["export"] == "run (new version: recipe: evaluate.max_turns: default -> 5)"

    (scenarios / "combat" / "goblins.md").write_text(SCENARIO.format(body="edited"))
    edited = run_inputs(recipe_for(out, scenarios))
    choice = choose_version(family, edited, resume=None, stages=["dataset"], frozen=lambda _: True)
    assert stage_actions(choice, edited)["train"] == "run (new version: 1 scenario edited (combat/goblins.md))"


def two_versions_deployed(tmp_path: Path, scenarios: Path) -> tuple[Path, Path]:
    """r and r-v2 promoted in turn, r-v2 deployed into an app's assets as ``dm``."""
    out, assets = tmp_path / "out", tmp_path / "app" / "assets"
    assets.mkdir(parents=True)
    run(recipe_for(out, scenarios))
    (scenarios / "combat" / "goblins.md").write_text(SCENARIO.format(body="edited"))
    run(recipe_for(out, scenarios))
    promote(out, "r")
    promote(out, "r-v2")
    assert main(["deploy", "r-v2", "--to", str(assets), "--name", "dm", "--skip-tests", "--output", str(out)]) == 0
    assert (assets / "dm" / "r-v2-F16.gguf").is_file()
    return out, assets


def test_rollback_redeploys_to_where_the_last_deploy_went(tmp_path: Path, scenarios: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out, assets = two_versions_deployed(tmp_path, scenarios)
    assert main(["models", "--output", str(out), "rollback"]) == 0
    assert "redeploying r to" in capsys.readouterr().out
    assert (assets / "dm" / "r-F16.gguf").is_file() and not (assets / "dm" / "r-v2-F16.gguf").exists()
    assert Registry(out).read().last_deploy.version == "r"  # type: ignore[union-attr]


def test_rollback_prints_the_deploy_command_when_asked_not_to_redeploy(tmp_path: Path, scenarios: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out, assets = two_versions_deployed(tmp_path, scenarios)
    assert main(["models", "--output", str(out), "rollback", "--no-redeploy"]) == 0
    assert f"dndtune deploy r --to {assets} --name dm --target gguf --skip-tests" in capsys.readouterr().out
    assert (assets / "dm" / "r-v2-F16.gguf").is_file()


def test_the_unchanged_summary_repeats_the_versions_figures_and_goals(tmp_path: Path) -> None:
    from dndtune.cli.run import unchanged_summary

    record = {"status": "completed", "train": {"step": 80, "max_steps": 80, "final_loss": 1.2345},
              "export": {"gguf": "/x/demo-Q8_0.gguf", "quant": "Q8_0", "bytes": 291_000_000},
              "evaluate": {"eval_file": "/x/eval.json", "verdict": "the model meets 7 of 8 goals",
                           "goals": [{"key": "recall", "label": "roll recall", "value": 0.9, "baseline": 0.1,
                                      "goal": ">= 0.85", "met": True}]}}
    text = unchanged_summary(record, tmp_path / "demo")
    lines = text.splitlines()
    assert lines[0].startswith("run demo: completed, nothing changed since it ran")
    assert "80/80 steps, final loss 1.2345" in text and "demo-Q8_0.gguf (Q8_0, 291.0 MB)" in text
    assert "the model meets 7 of 8 goals" in text and lines[-1].split()[:2] == ["roll", "recall"]


def test_export_by_hand_is_refused_for_a_promoted_version_and_followed_for_a_completed_one(
        tmp_path: Path, scenarios: Path) -> None:
    from dndtune.errors import DndtuneError
    from dndtune.registry import check_reexport, record_reexport

    out = tmp_path / "out"
    first = run(recipe_for(out, scenarios))
    check_reexport(out, "r")  # completed, never promoted: a re-export is the user's call
    gguf = fake_gguf(first.layout.export / "r-Q4_K_M.gguf", seed=5.0)
    record_reexport(out, "r", gguf, sha256_file(gguf), gguf.stat().st_size)
    assert Registry(out).read().versions["r"].sha256 == sha256_file(gguf)
    (first.layout.export / "r-F16.gguf").unlink()
    first.layout.manifest.write_text(json.dumps({"file": gguf.name, "sha256": sha256_file(gguf)}))
    promote(out, "r")
    with pytest.raises(DndtuneError, match="r has been promoted, so its GGUF never changes"):
        check_reexport(out, "r")
