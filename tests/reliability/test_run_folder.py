"""The run folder: one run of a recipe at a time, a completed run survives a failed rerun, outputs written whole."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from filelock import FileLock

from dndtune.atomic import atomic_path, write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.pipeline import RunContext, Stage, build_pipeline
from dndtune.recipe.loader import parse_recipe
from dndtune.runs import RunFamily, RunLayout


def recipe_for(out: Path) -> object:
    return parse_recipe(json.dumps({"base_model": {"profile": "gemma-3-270m"},
                                    "output": {"dir": str(out), "run_name": "r"}}))


def passes(ctx: RunContext) -> None:
    ctx.layout.dataset.mkdir(parents=True, exist_ok=True)
    (ctx.layout.dataset / "train.jsonl").write_text("new data\n")
    ctx.record["dataset"] = {"hash": "new"}


def fails(ctx: RunContext) -> None:
    raise DndtuneError("the disk pre-flight failed")


def completed_run(out: Path) -> RunLayout:
    """A folder as a completed run leaves it."""
    sink = ListSink()
    result = build_pipeline(recipe_for(out), sink, stages=[Stage("dataset", passes, "stand-in")]).run()
    assert result.status == "completed"
    return result.layout


def snapshot(layout: RunLayout) -> dict[str, bytes]:
    files = [layout.run_json, layout.recipe, *sorted(layout.dataset.rglob("*"))]
    return {str(p.relative_to(layout.root)): p.read_bytes() for p in files if p.is_file()}


def test_a_second_run_of_the_same_recipe_is_refused_and_says_who_holds_it(tmp_path: Path) -> None:
    family = RunFamily.under(tmp_path, "r")
    family.runs.mkdir(parents=True)
    family.lock_owner.write_text(json.dumps({"pid": 4242, "host": "box", "started_at": "now"}))
    with FileLock(str(family.lock)), pytest.raises(DndtuneError, match="another dndtune run is working") as err:
        build_pipeline(recipe_for(tmp_path), ListSink(), stages=[Stage("dataset", passes, "stand-in")]).run()
    assert "pid 4242 on box" in str(err.value) and "output.run_name" in str(err.value)
    assert not family.layout(1).run_json.exists()  # nothing was written while another run held the recipe


def test_the_lock_is_released_after_a_run(tmp_path: Path) -> None:
    completed_run(tmp_path)
    family = RunFamily.under(tmp_path, "r")
    assert not family.lock_owner.exists()
    FileLock(str(family.lock)).acquire(timeout=0)


def test_a_failed_rerun_leaves_the_completed_run_as_it_was(tmp_path: Path) -> None:
    layout = completed_run(tmp_path)
    before = snapshot(layout)
    stages = [Stage("dataset", passes, "stand-in"), Stage("doctor", fails, "stand-in", needs=("dataset",))]
    with pytest.raises(DndtuneError, match="pre-flight"):
        build_pipeline(recipe_for(tmp_path), ListSink(), stages=stages).run()
    after = snapshot(layout)
    record = json.loads(after.pop("run.json"))
    previous = json.loads(before.pop("run.json"))
    assert after == before  # recipe.yaml and dataset/ byte-identical
    assert record.pop("last_rerun")["status"] == "failed" and record == previous
    assert not layout.completed_copy.exists()


def test_a_stopped_rerun_also_puts_the_completed_record_back(tmp_path: Path) -> None:
    layout = completed_run(tmp_path)
    before = snapshot(layout)

    def interrupted(ctx: RunContext) -> None:
        raise KeyboardInterrupt

    # The dataset stage is done and unchanged; the rerun goes on to a stage the completed run never ran.
    stages = [Stage("dataset", passes, "stand-in"), Stage("train", interrupted, "stand-in", needs=("dataset",))]
    with pytest.raises(KeyboardInterrupt):
        build_pipeline(recipe_for(tmp_path), ListSink(), stages=stages).run()
    assert json.loads(layout.run_json.read_text())["last_rerun"]["status"] == "stopped"
    assert snapshot(layout)["recipe.yaml"] == before["recipe.yaml"]


def test_a_rerun_killed_mid_way_is_repaired_by_the_next_one(tmp_path: Path) -> None:
    layout = completed_run(tmp_path)
    before = snapshot(layout)
    # What a kill -9 during a rerun leaves: the copy of the completed record, and the rerun's own files.
    layout.completed_copy.mkdir()
    for name, data in before.items():
        target = layout.completed_copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    layout.run_json.write_text(json.dumps({"status": "running"}))
    with pytest.raises(DndtuneError):
        build_pipeline(recipe_for(tmp_path), ListSink(), stages=[Stage("doctor", fails, "stand-in")]).run()
    assert json.loads(layout.run_json.read_text())["status"] == "completed"


def test_an_unchanged_rerun_runs_nothing_and_leaves_the_record(tmp_path: Path) -> None:
    layout = completed_run(tmp_path)
    before = snapshot(layout)
    result = build_pipeline(recipe_for(tmp_path), ListSink(), stages=[Stage("dataset", passes, "stand-in")]).run()
    assert result.status == "completed" and result.unchanged and result.layout == layout
    assert snapshot(layout) == before
    assert not layout.completed_copy.exists()


def test_a_completed_rerun_of_the_missing_stages_replaces_the_record(tmp_path: Path) -> None:
    layout = completed_run(tmp_path)
    stages = [Stage("dataset", passes, "stand-in"), Stage("train", passes, "stand-in", needs=("dataset",))]
    result = build_pipeline(recipe_for(tmp_path), ListSink(), stages=stages).run()
    record = json.loads(layout.run_json.read_text())
    assert result.status == "completed" and result.layout == layout and "last_rerun" not in record
    assert set(record["stages"]) == {"dataset", "train"} and not layout.completed_copy.exists()


def test_an_output_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(DndtuneError, match="could not write output") as err:
        write_text_atomic(blocker / "run.json", "{}")
    assert "free disk space" in str(err.value) and str(blocker) in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(DndtuneError, match="could not write output"), atomic_path(folder / "x.json"):
            pass
    finally:
        folder.chmod(stat.S_IRWXU)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full to stand for a full disk")
def test_a_full_disk_leaves_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("previous")
    with pytest.raises(DndtuneError, match="could not write output"), atomic_path(target) as tmp:
        with open("/dev/full", "w") as full:
            full.write("x" * 65536)
            full.flush()  # ENOSPC, as a full disk gives
        tmp.write_text("never published")
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_written_files_get_the_usual_mode_not_private(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    write_text_atomic(tmp_path / "registry.json", "{}")
    with atomic_path(tmp_path / "export", is_dir=True) as folder:
        (folder / "model.json").write_text("{}")
    assert stat.S_IMODE((tmp_path / "registry.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "export").stat().st_mode) == 0o777 & ~mask
