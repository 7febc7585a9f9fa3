"""Resume decisions on checkpoint folders (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.train.resume import complete_checkpoints, decide_resume, latest_checkpoint, write_key


def checkpoint(folder: Path, step: int, *, complete: bool = True) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


def test_latest_complete_checkpoint_wins(tmp_path: Path) -> None:
    checkpoint(tmp_path, 5)
    checkpoint(tmp_path, 10)
    checkpoint(tmp_path, 15, complete=False)  # killed while saving
    (tmp_path / "checkpoint-x").mkdir()
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-10"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert latest_checkpoint(tmp_path / "missing") is None


def test_auto_resumes_matching_checkpoint(tmp_path: Path) -> None:
    checkpoint(tmp_path, 4)
    write_key(tmp_path, "k1")
    sink = ListSink()
    assert decide_resume(tmp_path, "k1", None, sink) == tmp_path / "checkpoint-4"
    assert sink.events[-1].kind == "train.resume" and sink.events[-1].data["step"] == 4


def test_auto_refuses_checkpoints_of_another_setup(tmp_path: Path) -> None:
    checkpoint(tmp_path, 4)
    write_key(tmp_path, "old")
    with pytest.raises(DndtuneError, match="different model, dataset or training setup"):
        decide_resume(tmp_path, "new", None, ListSink())
    sink = ListSink()
    assert decide_resume(tmp_path, "new", True, sink) == tmp_path / "checkpoint-4"
    assert sink.events[-1].level == "warning"


def test_no_resume_starts_over(tmp_path: Path) -> None:
    checkpoint(tmp_path, 4)
    assert decide_resume(tmp_path, "k", False, ListSink()) is None
    assert not tmp_path.exists()


def test_fresh_folder(tmp_path: Path) -> None:
    assert decide_resume(tmp_path, "k", None, ListSink()) is None
    with pytest.raises(DndtuneError, match="nothing to resume"):
        decide_resume(tmp_path, "k", True, ListSink())


def test_a_new_version_continues_an_earlier_checkpoint_only_below_its_own_step_count(tmp_path: Path) -> None:
    from dndtune.train.resume import adopt_checkpoint

    earlier, new = tmp_path / "r" / "checkpoints", tmp_path / "r-v2" / "checkpoints"
    (earlier / "checkpoint-80").mkdir(parents=True)
    (earlier / "checkpoint-80" / "trainer_state.json").write_text("{}")
    write_key(earlier, "k")
    assert adopt_checkpoint(earlier, new, "other", 120, ListSink()) is None  # another setup
    assert adopt_checkpoint(earlier, new, "k", 80, ListSink()) is None  # already there: nothing to continue
    sink = ListSink()
    adopted = adopt_checkpoint(earlier, new, "k", 120, sink)
    assert adopted == new / "checkpoint-80" and (adopted / "trainer_state.json").is_file()
    assert sink.events[0].message == "continuing from r's checkpoint-80: same data and setup"
    assert (earlier / "checkpoint-80" / "trainer_state.json").is_file()  # the earlier version keeps its own
