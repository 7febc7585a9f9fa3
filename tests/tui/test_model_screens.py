"""Pilot tests of screens 6-8 (Evaluate, Play, Models) on run folders with little real GGUFs.

No model is loaded: the screens open models through a module-level ``open_model`` that these tests
replace with a scripted runner (tests/evaluate/scripted.py), so every reply is known.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dndtune.evaluate.report import read_eval_file
from dndtune.hashing import sha256_file
from dndtune.play.ratings import read_ratings
from dndtune.registry import Registry
from tests.evaluate.scripted import ScriptedRunner
from tests.tui.conftest import build_app
from tests.tui.model_runs import good_dm, models_project
from tests.tui.test_screens import static_text
from tui.app import DndtuneApp
from tui.screens.evaluate import EvaluateScreen
from tui.screens.models import ModelsScreen
from tui.screens.play import PlayScreen
from tui.widgets.models.confirm import ConfirmDialog
from tui.widgets.play.chat_log import DmReply

pytestmark = pytest.mark.anyio


class Opened:
    """Stands in for ``open_runner``: a scripted runner per model file, remembered for the test."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.runners: list[ScriptedRunner] = []

    def __call__(self, path: Path, *, label: str | None = None, **_: Any) -> ScriptedRunner:
        self.paths.append(path)
        runner = ScriptedRunner(good_dm, label=label or path.stem)
        self.runners.append(runner)
        return runner


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    import tui.screens.evaluate
    import tui.screens.play

    fake = Opened()
    monkeypatch.setattr(tui.screens.evaluate, "open_model", fake)
    monkeypatch.setattr(tui.screens.play, "open_model", fake)
    monkeypatch.setattr(tui.screens.play, "DICE_SEED", 7)
    yield fake


@pytest.fixture
def runs_project(tmp_path: Path) -> Path:
    return models_project(tmp_path)


def app_on(project: Path, screen: str) -> DndtuneApp:
    return build_app(project, screen=screen, recipe="models")


async def settle(pilot: Pilot[None], rounds: int = 3) -> None:
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_for(pilot: Pilot[None], condition: Any, tries: int = 200) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
    assert condition()


async def test_number_keys_reach_the_new_screens(runs_project: Path, opened: Opened) -> None:
    app = app_on(runs_project, "environment")
    async with app.run_test(size=(80, 24)) as pilot:
        for key, kind in (("6", EvaluateScreen), ("8", ModelsScreen), ("7", PlayScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, kind)


async def test_evaluate_shows_the_latest_runs_scores(runs_project: Path, opened: Opened) -> None:
    app = app_on(runs_project, "evaluate")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        status = static_text(app, "#eval-status")
        assert "run demo-v2" in status and "4/4 DM turns" in status
        scores = static_text(app, "#eval-scores-body")
        assert "roll recall" in scores and "meets all 8 goals" in scores
        # The base model's column, from the base report in eval.json.
        recall = next(line for line in scores.splitlines() if "roll recall" in line)
        assert recall.split()[2:4] == ["1.00", "0.00"]
        turns = static_text(app, "#eval-turns-body")
        assert "expected perception (Mira)  got perception (Mira) ✓" in turns
        assert "recall" in static_text(app, "#eval-chart")
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert "run demo-v1" in static_text(app, "#eval-status")


async def test_evaluate_runs_eval_in_a_worker(runs_project: Path, opened: Opened) -> None:
    run = runs_project / "training-output" / "runs" / "demo-v2"
    (run / "eval.json").unlink()
    app = app_on(runs_project, "evaluate")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "not evaluated yet" in static_text(app, "#eval-status")
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        await wait_for(pilot, lambda: screen.running is None)
        await settle(pilot)
        assert opened.paths == [run / "export" / "demo-v2-F16.gguf"]
        evaluation = read_eval_file(run / "eval.json")
        assert evaluation is not None and evaluation.primary == "demo-v2-F16"
        # Every turn is kept for the list (the CLI keeps 6 samples; the scores are the same).
        assert len(evaluation.primary_report().samples) == evaluation.primary_report().data.evaluated_turns == 4
        assert (run / "eval.png").is_file()
        scores = static_text(app, "#eval-scores-body")
        assert "of 8 goals" in scores and "no base-model report in eval.json" in scores
        assert "4/4 DM turns" in static_text(app, "#eval-status")


async def test_evaluate_keeps_an_existing_base_report(runs_project: Path, opened: Opened) -> None:
    run = runs_project / "training-output" / "runs" / "demo-v1"
    app = app_on(runs_project, "evaluate")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("left_square_bracket", "e")
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        await wait_for(pilot, lambda: screen.running is None)
        evaluation = read_eval_file(run / "eval.json")
        assert evaluation is not None
        assert [r.model.label for r in evaluation.reports] == ["demo-v1-F16", "base"]


async def test_play_three_turns_with_a_roll_and_a_saved_rating(runs_project: Path, opened: Opened) -> None:
    run = runs_project / "training-output" / "runs" / "demo-v2"
    before = len(read_ratings(run / "ratings.jsonl"))
    app = app_on(runs_project, "play")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayScreen)
        await wait_for(pilot, lambda: screen.session is not None)
        assert opened.paths == [run / "export" / "demo-v2-F16.gguf"]  # the newest run (nothing promoted)
        for line in ("We walk down into the crypt.", "Mira sneaks past the guard.", "Borin asks what to do."):
            await pilot.press(*line, "enter")
            await wait_for(pilot, lambda: not screen.busy)
        turns = screen.transcript
        assert [len(t.rolls) for t in turns] == [0, 1, 0]
        roll = turns[1].rolls[0]
        assert roll.skill == "stealth" and roll.character == "Mira" and roll.result["dice"] == "1d20"
        replies = list(screen.query(DmReply))
        assert len(replies) == 3 and replies[1].rolls[0][1] == roll
        assert replies[1].narration.startswith("Keep to the shadows.") and f"You rolled {roll.result['total']}" \
            in replies[1].narration
        await pilot.press(*"4 good pacing", "enter")
        await pilot.pause()
        assert replies[2].rating == 4
    ratings = read_ratings(run / "ratings.jsonl")
    assert len(ratings) == before + 1
    saved = ratings[-1]
    # What `dndtune play` stores: the model file's label and sha256, the turn, the player's line, the reply.
    gguf = run / "export" / "demo-v2-F16.gguf"
    assert (saved.model, saved.sha256, saved.turn, saved.rating, saved.note) == (
        "demo-v2-F16", sha256_file(gguf), 3, 4, "good pacing")
    assert saved.player == "Borin asks what to do." and saved.reply == turns[2].text
    assert saved.scenario is None  # the default scene has no file


async def test_play_streams_narration_and_restarts_on_another_scene(runs_project: Path, opened: Opened) -> None:
    app = app_on(runs_project, "play")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayScreen)
        await wait_for(pilot, lambda: screen.session is not None)
        seen: list[str] = []
        original = DmReply.set_narration

        def spy(reply: DmReply, text: str) -> None:
            seen.append(text)
            original(reply, text)

        DmReply.set_narration = spy  # type: ignore[method-assign]
        try:
            await pilot.press(*"Mira sneaks past.", "enter")
            await wait_for(pilot, lambda: not screen.busy)
        finally:
            DmReply.set_narration = original  # type: ignore[method-assign]
        # A round at a time for a runner that does not stream: the call block never shows.
        assert seen[0] == "Keep to the shadows." and all("tool_call" not in s for s in seen)
        from textual.widgets import Select

        scene = screen.query_one("#play-scene", Select)
        keys = [c.key for c in screen.scenes]
        assert len(keys) == 3  # the default scene and the two valid scenarios of the project
        scene.value = keys[1]
        await wait_for(pilot, lambda: screen.session is not None and screen.session.scene.source is not None)
        assert screen.transcript == []
        assert len(opened.runners) == 2


async def test_models_promote_warns_about_ratings_and_rolls_back(runs_project: Path, opened: Opened) -> None:
    output = runs_project / "training-output"
    app = app_on(runs_project, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        assert screen.selected is not None and screen.selected.name == "demo-v1"
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and app.screen.warnings == []
        await pilot.press("y")
        await wait_for(pilot, lambda: Registry(output).read().promoted == "demo-v1" and not screen.working)
        await settle(pilot)
        await pilot.press("down")
        await pilot.pause()
        alerts = static_text(app, "#models-alerts")
        assert "rated worse: 2.33 (3 ratings) vs 4.50 (4 ratings) for demo-v1" in alerts
        assert "demo-v1 is rated 2.17 higher than demo-v2" in static_text(app, "#models-samples-body")
        await pilot.press("p")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert any(w.startswith("rated worse") for w in dialog.warnings)
        await pilot.press("n")
        await pilot.pause()
        assert Registry(output).read().promoted == "demo-v1"
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: Registry(output).read().promoted == "demo-v2" and not screen.working)
        await settle(pilot)
        assert "promoted: demo-v2" in str(screen.query_one("#models-table").border_subtitle)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and "from demo-v2 to demo-v1" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: Registry(output).read().promoted == "demo-v1" and not screen.working)
    state = Registry(output).read()
    assert [(e.action, e.version) for e in state.history] == [
        ("promote", "demo-v1"), ("promote", "demo-v2"), ("rollback", "demo-v1")]


async def test_palette_promotes_after_confirmation(runs_project: Path, opened: Opened) -> None:
    app = app_on(runs_project, "environment")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"promote selected")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
    assert Registry(runs_project / "training-output").read().promoted == "demo-v1"
