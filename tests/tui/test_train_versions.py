"""The Train screen says what a run would do with the recipe's versions; ``n`` starts a new one from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from dndtune.pipeline import RunContext, Stage
from tests.tui.conftest import build_app, write_project
from tests.tui.test_run_control import wait_for

pytestmark = pytest.mark.anyio


def stand_in(ctx: RunContext) -> None:
    ctx.layout.dataset.mkdir(parents=True, exist_ok=True)
    (ctx.layout.dataset / "train.jsonl").write_text("data\n")


def project_with(tmp_path: Path) -> tuple[Path, Path]:
    out, project = tmp_path / "out", tmp_path / "project"
    recipe = (f"base_model:\n  profile: gemma-3-270m\ndata:\n  scenarios_dir: {project / 'training-data'}\n"
              f"output:\n  dir: {out}\n  run_name: v\n")
    write_project(project, {"v": recipe})
    return project, out


def version_text(app: object) -> str:
    from tui.app import DndtuneApp

    assert isinstance(app, DndtuneApp)
    return str(app.screen.query_one("#train-version", Static).render())


async def test_the_train_screen_says_first_then_unchanged_then_what_changed(tmp_path: Path) -> None:
    project, out = project_with(tmp_path)
    stages = (Stage("dataset", stand_in, "stand-in"),)
    app = build_app(project, screen="train", recipe="v", stages=stages)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "first version" in version_text(app), pilot)
        await pilot.press("s")
        await wait_for(lambda: not app.run_state.active, pilot)
        assert app.run_state.status == "done", app.run_state.new_log_lines(0)
        await wait_for(lambda: "nothing changed since run v" in version_text(app), pilot)
        scenario = next((project / "training-data").glob("*/*.md"))
        scenario.write_text(scenario.read_text(encoding="utf-8") + "\n")
        app.recipe = app.recipe  # what the Recipe screen or the file watcher does after an edit
        await wait_for(lambda: "new version v-v2" in version_text(app), pilot)
        assert "1 scenario edited" in version_text(app)
        await pilot.press("n")
        await wait_for(lambda: (out / "runs" / "v-v2" / "run.json").is_file() and not app.run_state.active, pilot)
    assert (out / "runs" / "v" / "run.json").is_file()


async def test_a_version_answer_arriving_after_the_screen_is_taken_down_is_dropped(tmp_path: Path) -> None:
    """The preview is worked out in a thread; the app may be quitting (its widgets gone) when it lands."""
    from tui.screens.train import TrainScreen

    project, _ = project_with(tmp_path)
    app = build_app(project, screen="train", recipe="v")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: "first version" in version_text(app), pilot)
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        await screen.query_one("#train-version").remove()
        screen._show_version("new version v-v2")  # no widget to write to: nothing happens, nothing raises
        await pilot.pause()
        assert not screen.query("#train-version")
