"""Reopening the app shows what the recipe's run folder holds: a stopped run's curve, ready to resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.runs import RunLayout
from tests.tui.conftest import build_app, write_project
from tui.run_history import load_previous_run
from tui.run_state import RunState
from tui.widgets.train.loss_chart import LossChart

pytestmark = pytest.mark.anyio


def stopped_run(root: Path) -> RunLayout:
    layout = RunLayout(root)
    root.mkdir(parents=True)
    layout.run_json.write_text(json.dumps({"status": "stopped", "train": {"step": 3, "max_steps": 8}}))
    rows = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 2, "eval_loss": 2.5}, {"step": 3, "loss": 1.5}]
    layout.metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return layout


def test_a_stopped_run_comes_back_resumable(tmp_path: Path) -> None:
    state = RunState()
    assert load_previous_run(state, stopped_run(tmp_path / "runs" / "r"))
    assert (state.status, state.step, state.max_steps) == ("stopped", 3, 8)
    assert state.train_loss == [(1, 3.0), (2, 2.0), (3, 1.5)] and state.eval_loss == [(2, 2.5)]
    assert "stopped at step 3 of 8" in state.log[-1]


def test_a_run_that_died_mid_step_counts_as_stopped(tmp_path: Path) -> None:
    layout = stopped_run(tmp_path / "runs" / "r")
    layout.run_json.write_text(json.dumps({"status": "running", "train": {}}))
    state = RunState()
    assert load_previous_run(state, layout)
    assert state.status == "stopped" and state.step == 3


def test_no_run_folder_leaves_the_state_alone(tmp_path: Path) -> None:
    state = RunState(status="idle")
    state.add_log("kept")
    assert not load_previous_run(state, RunLayout(tmp_path / "nothing"))
    assert list(state.log) == ["kept"]


async def test_the_train_screen_opens_on_the_earlier_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stopped_run(out / "runs" / "again")
    recipe = f"base_model:\n  profile: gemma-3-270m\noutput:\n  dir: {out}\n  run_name: again\n"
    app = build_app(write_project(tmp_path / "project", {"again": recipe}), screen="train", recipe="again")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.run_state.status == "stopped"
        assert app.screen.query_one(LossChart).train == [(1, 3.0), (2, 2.0), (3, 1.5)]
