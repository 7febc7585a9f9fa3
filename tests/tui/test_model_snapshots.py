"""Screens 6-8 at 80x24 with fixed run folders and a scripted model; a layout change shows up as a diff.

Update after an intended change with ``pytest tests/tui/test_model_snapshots.py --snapshot-update`` and
look at the SVGs in ``tests/tui/__snapshots__/`` before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import build_app
from tests.tui.model_runs import models_project
from tests.tui.test_model_screens import Opened, wait_for
from tui.app import DndtuneApp
from tui.screens.play import PlayScreen

Compare = Callable[..., bool]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import tui.screens.evaluate
    import tui.screens.play

    fake = Opened()
    monkeypatch.setattr(tui.screens.evaluate, "open_model", fake)
    monkeypatch.setattr(tui.screens.play, "open_model", fake)
    monkeypatch.setattr(tui.screens.play, "DICE_SEED", 7)
    return models_project(tmp_path)


def app_on(project: Path, screen: str) -> DndtuneApp:
    return build_app(project, screen=screen, recipe="models")


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    # Toasts ("promoted demo-v1") fade on a timer: not part of the layout under test.
    pilot.app.clear_notifications()
    await pilot.pause()


class TestModelScreens:
    def test_evaluate(self, snap_compare: Compare, project: Path) -> None:
        assert snap_compare(app_on(project, "evaluate"), terminal_size=(80, 24), run_before=settle)

    def test_play(self, snap_compare: Compare, project: Path) -> None:
        async def played(pilot: Pilot[None]) -> None:
            screen = pilot.app.screen
            assert isinstance(screen, PlayScreen)
            await wait_for(pilot, lambda: screen.session is not None)
            for line in ("We walk down into the crypt.", "Mira sneaks past the guard."):
                await pilot.press(*line, "enter")
                await wait_for(pilot, lambda: not screen.busy)
            await pilot.press(*"5 tense", "enter")
            await settle(pilot)

        assert snap_compare(app_on(project, "play"), terminal_size=(80, 24), run_before=played)

    def test_models(self, snap_compare: Compare, project: Path) -> None:
        async def promoted_then_down(pilot: Pilot[None]) -> None:
            await settle(pilot)
            await pilot.press("p", "y")
            await settle(pilot)
            await pilot.press("down")
            await settle(pilot)

        assert snap_compare(app_on(project, "models"), terminal_size=(80, 24), run_before=promoted_then_down)

    def test_models_promote_confirmation(self, snap_compare: Compare, project: Path) -> None:
        async def asking(pilot: Pilot[None]) -> None:
            await settle(pilot)
            await pilot.press("p", "y")
            await settle(pilot)
            await pilot.press("down", "p")
            await settle(pilot)

        assert snap_compare(app_on(project, "models"), terminal_size=(80, 24), run_before=asking)
