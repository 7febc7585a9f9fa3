"""Pilot tests: each screen does its job through the real app built by make_app."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import Input, Static

from dndtune.events import TrainBegan, TrainStep
from tests.tui.conftest import build_app
from tui.messages import PipelineEvent
from tui.screens.environment import EnvironmentScreen
from tui.screens.recipe import RecipeScreen
from tui.screens.scenarios import ScenariosScreen
from tui.screens.train import TrainScreen
from tui.widgets.recipe.recipe_form import input_id
from tui.widgets.scenarios.scenario_tree import ScenarioFile, ScenarioTree
from tui.widgets.train.loss_chart import LossChart

pytestmark = pytest.mark.anyio


def static_text(app: App[None], selector: str) -> str:
    """What a Static shows, as plain text (wide enough that nothing wraps mid-phrase)."""
    content = app.screen.query_one(selector, Static).content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get().rstrip("\n")


async def test_number_keys_switch_screens(project: Path) -> None:
    app = build_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, EnvironmentScreen)
        for key, kind in (("2", ScenariosScreen), ("3", RecipeScreen), ("4", TrainScreen)):
            await pilot.press(key)
            assert isinstance(app.screen, kind)


async def test_environment_lists_checks_with_fixes(project: Path) -> None:
    app = build_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = static_text(app, "#env-summary")
        assert "fail" in summary and "fix the failed checks" in summary
        body = static_text(app, "#checklist-body")
        assert "my-scenarios does not exist" in body and "fix:" in body


async def test_scenarios_tree_detail_and_summary(project: Path) -> None:
    app = build_app(project, screen="scenarios")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        tree = app.screen.query_one(ScenarioTree)
        categories = [str(node.label) for node in tree.root.children]
        assert categories == ["combat (1)", "rest (1)", "social (1) 1 with errors"]
        summary = static_text(app, "#scenario-summary")
        assert "scenarios 2/3" in summary and "errors 1" in summary
        # Walk down to the broken file: its message and line show in the detail pane.
        tree.focus()
        while not (isinstance(tree.cursor_node.data, ScenarioFile) and tree.cursor_node.data.errors):
            await pilot.press("down")
        await pilot.pause()
        detail = static_text(app, "#scenario-detail-body")
        assert "line   21 error" in detail and "wrong total" in detail
        assert "Haggling with the Ferryman" in detail


async def test_scenarios_revalidate_when_a_file_is_fixed(project: Path) -> None:
    app = build_app(project, screen="scenarios", watch_interval=0.05)
    broken = project / "training-data" / "social" / "haggling-with-the-ferryman.md"
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "errors 1" in static_text(app, "#scenario-summary")
        broken.write_text(broken.read_text(encoding="utf-8").replace("= 17 vs", "= 15 vs"), encoding="utf-8")
        for _ in range(100):
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            if "errors 0" in static_text(app, "#scenario-summary"):
                break
        assert "scenarios 3/3" in static_text(app, "#scenario-summary")


async def test_recipe_edits_validate_inline_and_save(project: Path) -> None:
    app = build_app(project, screen="recipe")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.recipe is not None and app.recipe.train.lr == 2e-4
        lr = app.screen.query_one(f"#{input_id('train.lr')}", Input)
        lr.value = "-1"
        await pilot.pause()
        assert "must be > 0" in static_text(app, f"#{input_id('train.lr')}-error")
        assert app.recipe.train.lr == 2e-4  # the last valid recipe stays in use
        lr.value = "1e-4"
        steps = app.screen.query_one(f"#{input_id('train.max_steps')}", Input)
        steps.value = "8"
        await pilot.pause()
        assert static_text(app, f"#{input_id('train.lr')}-error") == ""
        assert app.recipe.train.lr == 1e-4 and app.recipe.train.max_steps == 8
        assert app.recipe_edits == ("train.max_steps=8", "train.lr=1e-4")
        await pilot.press("ctrl+s")
        await pilot.press(*"faster", "enter")
        await pilot.pause()
    saved = project / "recipes" / "faster.yaml"
    from dndtune.recipe.loader import load_recipe

    recipe = load_recipe(str(saved))
    assert recipe.train.lr == 1e-4 and recipe.train.max_steps == 8


async def test_train_screen_draws_pipeline_events(project: Path) -> None:
    app = build_app(project, screen="train")
    async with app.run_test(size=(80, 24)) as pilot:
        # On a loaded machine the train screen may mount after the first pause: events posted
        # before it exists are not its to draw.
        for _ in range(100):
            if isinstance(app.screen, TrainScreen):
                break
            await pilot.pause(0.05)
        app.run_state.status = "running"
        app.post_message(PipelineEvent(TrainBegan(message="training from step 0 to 10", step=0, max_steps=10)))
        for step, loss in enumerate((3.2, 2.9, 2.4), start=1):
            app.post_message(PipelineEvent(TrainStep(message=f"step {step}", step=step, max_steps=10, epoch=step / 10,
                                                     loss=loss, lr=2e-4, grad_norm=1.0, tokens_per_s=410.0, eta_s=70.0,
                                                     mem_bytes=900_000_000)))
        chart = app.screen.query_one(LossChart)
        for _ in range(100):
            if len(chart.train) == 3:
                break
            await pilot.pause(0.05)
        assert chart.train == [(1, 3.2), (2, 2.9), (3, 2.4)]
        figures = static_text(app, "#progress-figures")
        assert "step 3/10" in figures and "loss 2.4000" in figures and "ETA 1m10s" in figures
        assert "peak 900.00 MB" in static_text(app, "#memory-figures")


async def test_command_palette_runs_actions_by_name(project: Path) -> None:
    app = build_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"validate scen")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, ScenariosScreen)


def test_every_palette_command_names_a_real_action() -> None:
    from tui.app import DndtuneApp
    from tui.commands import COMMANDS

    for command in COMMANDS:
        namespace, _, action = command.action.rpartition(".")
        if not action:
            continue
        owner = DndtuneApp if namespace == "app" or command.mode is None else DndtuneApp.MODES[command.mode]
        assert callable(getattr(owner, f"action_{action}", None)), command
