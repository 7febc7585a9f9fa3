"""``train.report_to``: recipe -> Hyperparameters -> training arguments; TensorBoard files in the run folder;
a missing package stops the run before anything loads, with one line naming it and its install command."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dndtune.env.checks import check_recipe
from dndtune.env.doctor import check_run
from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.recipe.schema import Recipe
from dndtune.runs import RunLayout
from dndtune.train.job import Hyperparameters, require_reporter
from dndtune.train.trainer import _reporting, resume_key, train_adapter
from tests.env.fakes import fake_env
from tests.fixtures.tiny_models import EVAL, TRAIN, tiny_job


@pytest.fixture
def hide(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes the named top-level modules look not installed (``find_spec`` -> ``None``)."""
    real = importlib.util.find_spec

    def hide(*names: str) -> None:
        def find_spec(name: str, package: str | None = None) -> Any:
            return None if name.split(".")[0] in names else real(name, package)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return hide


def _recipe(tmp_path: Path, model: Path, **train: Any) -> Recipe:
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    (tmp_path / "scenarios" / "a.md").write_text("# scenario\n", encoding="utf-8")
    return Recipe.model_validate({"base_model": {"name_or_path": str(model)},
                                  "data": {"scenarios_dir": str(tmp_path / "scenarios")}, "train": train})


def test_recipe_field_defaults_to_none_and_flows_into_hyperparameters(tmp_path: Path, tiny_gemma3: Path) -> None:
    assert _recipe(tmp_path, tiny_gemma3).train.report_to == "none"
    recipe = _recipe(tmp_path, tiny_gemma3, report_to="tensorboard")
    assert Hyperparameters.from_section(recipe.train).report_to == "tensorboard"
    with pytest.raises(ValidationError, match="report_to"):
        _recipe(tmp_path, tiny_gemma3, report_to="wandb")


def test_training_arguments(tmp_path: Path, tiny_gemma3: Path) -> None:
    assert _reporting(tiny_job(tiny_gemma3, tmp_path)) == {"report_to": "none"}
    tensorboard = _reporting(tiny_job(tiny_gemma3, tmp_path / "demo", report_to="tensorboard"))
    assert tensorboard["report_to"] == "tensorboard" and tensorboard["run_name"] == "demo"
    trackio = _reporting(tiny_job(tiny_gemma3, tmp_path / "demo", report_to="trackio"))
    assert trackio["report_to"] == "trackio" and trackio.get("project", "dndtune") == "dndtune"


def test_report_to_does_not_change_the_resume_key(tmp_path: Path, tiny_gemma3: Path) -> None:
    plain = resume_key(tiny_job(tiny_gemma3, tmp_path), [], [])
    assert resume_key(tiny_job(tiny_gemma3, tmp_path, report_to="tensorboard"), [], []) == plain


@pytest.mark.parametrize(("report_to", "hidden", "install"), [
    ("tensorboard", ("tensorboard", "tensorboardX"), "pip install tensorboard"),
    ("trackio", ("trackio",), "pip install trackio"),
])
def test_missing_package_fails_before_anything_loads(tmp_path: Path, tiny_gemma3: Path, hide: Any,
                                                     report_to: str, hidden: tuple[str, ...], install: str) -> None:
    hide(*hidden)
    sink = ListSink()
    with pytest.raises(DndtuneError) as caught:
        train_adapter(tiny_job(tiny_gemma3, tmp_path, report_to=report_to), TRAIN, EVAL, sink)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (f"train.report_to is {report_to} but the {hidden[0]} package is not installed "
                       f"({install}, or set train.report_to: none)")
    assert sink.events == [] and not RunLayout(tmp_path).checkpoints.exists()
    require_reporter("none")


def test_doctor_refuses_the_run_first(tmp_path: Path, tiny_gemma3: Path, hide: Any) -> None:
    recipe = _recipe(tmp_path, tiny_gemma3, report_to="tensorboard")
    hide("tensorboard", "tensorboardX")
    check = {c.name: c for c in check_recipe(recipe, fake_env())}["report_to"]
    assert check.status == "fail" and check.fix == "pip install tensorboard, or set train.report_to: none"
    with pytest.raises(DndtuneError) as caught:
        check_run(recipe, ListSink(), env=fake_env())
    assert str(caught.value) == ("report_to: train.report_to is tensorboard but the tensorboard package is not "
                                 "installed (pip install tensorboard, or set train.report_to: none)")
    assert "report_to" not in {c.name for c in check_recipe(_recipe(tmp_path, tiny_gemma3), fake_env())}


def test_tensorboard_writes_event_files_in_the_run_folder(tmp_path: Path, tiny_gemma3: Path) -> None:
    pytest.importorskip("tensorboard", reason="train.report_to: tensorboard needs `pip install tensorboard`")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    layout = RunLayout(runs / "demo")
    stale = layout.tensorboard / "events.out.tfevents.0.old"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")  # from an earlier attempt: a fresh start clears it

    result = train_adapter(tiny_job(tiny_gemma3, layout.root, max_steps=2, report_to="tensorboard"),
                           TRAIN, EVAL, ListSink())

    assert result.status == "completed"
    files = sorted(layout.tensorboard.rglob("events.out.tfevents.*"))
    assert files and not stale.exists()
    assert not list(layout.checkpoints.rglob("events.out.tfevents.*")), "not transformers' default folder"
    accumulator = EventAccumulator(str(layout.tensorboard))
    accumulator.Reload()
    scalars = accumulator.Tags()["scalars"]
    assert {"train/loss", "eval/loss"} <= set(scalars)
    assert [e.step for e in accumulator.Scalars("train/loss")] == [1, 2]
    # `tensorboard --logdir <output>/runs` finds each run as <run>/tensorboard.
    assert all(f.relative_to(runs).parts[:2] == ("demo", "tensorboard") for f in files)
