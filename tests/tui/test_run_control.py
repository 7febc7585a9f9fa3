"""Training runs in a worker thread: the UI answers keys mid-step, stop is pause-safe, quit waits for it.

The pipeline, its worker, the event path and the screens are all real; only the training stage
is a stand-in whose step lasts until the test lets it finish, so "a step in flight" is certain.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from textual.widgets import RichLog

from dndtune.events import CheckpointSaved, TrainBegan, TrainStep
from dndtune.pipeline import RunContext, Stage
from tests.tui.conftest import build_app, write_project
from tui.app import DndtuneApp
from tui.screens.train import TrainScreen
from tui.widgets.train.loss_chart import LossChart

pytestmark = pytest.mark.anyio

STEPS = 3


class HeldSteps:
    """A training stage whose every step waits for ``release``; it honours the stop flag like the real one."""

    def __init__(self) -> None:
        self.in_step = threading.Event()
        self.release = threading.Event()
        self.stopped_at: int | None = None

    def __call__(self, ctx: RunContext) -> None:
        ctx.events.emit(TrainBegan(message=f"training from step 0 to {STEPS}", step=0, max_steps=STEPS))
        for step in range(1, STEPS + 1):
            self.in_step.set()
            if not self.release.wait(timeout=30):
                raise TimeoutError("the test never released the step")
            self.release.clear()
            self.in_step.clear()
            ctx.events.emit(TrainStep(message=f"step {step}", step=step, max_steps=STEPS, epoch=step / STEPS,
                                      loss=3.0 / step, mem_bytes=10**8))
            if ctx.stop_event.is_set():
                ctx.events.emit(CheckpointSaved(message=f"checkpoint saved at step {step}", step=step,
                                                path=f"checkpoint-{step}"))
                self.stopped_at = step
                return


def merge_after(ran: list[str]) -> Stage:
    """The stage after training: a stopped run must not reach it."""
    return Stage("merge", lambda ctx: ran.append("merge"), "stand-in merge stage", needs=("train",))


def held_app(tmp_path: Path) -> tuple[DndtuneApp, HeldSteps, list[str]]:
    out = tmp_path / "out"
    recipe = f"base_model:\n  profile: gemma-3-270m\noutput:\n  dir: {out}\n  run_name: held\n"
    project = write_project(tmp_path / "project", {"held": recipe})
    held, ran = HeldSteps(), []
    stages = (Stage("train", held, "stand-in training stage"), merge_after(ran))
    app = build_app(project, screen="train", recipe="held", stages=stages, memory_interval=0.05)
    return app, held, ran


async def wait_for(predicate: object, pilot: object, seconds: float = 10.0) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot) and callable(predicate)
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")


async def test_keys_are_handled_while_a_step_is_in_flight(tmp_path: Path) -> None:
    app, held, ran = held_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await asyncio.to_thread(held.in_step.wait, 10)
        # The worker is blocked inside step 1; the UI thread must still take keys.
        await pilot.press("l")
        assert held.in_step.is_set() and isinstance(app.focused, RichLog)
        await pilot.press("3")
        assert app.current_mode == "recipe"
        # Memory is sampled over time while the step runs (this process's RAM: no GPU here).
        await wait_for(lambda: len(app.run_state.memory) >= 2, pilot)
        assert app.run_state.memory_device in ("RAM", "GPU 0") and app.run_state.memory[-1] > 0
        await pilot.press("4")
        assert isinstance(app.screen, TrainScreen)
        for _ in range(STEPS):
            held.release.set()
            await asyncio.to_thread(held.release.wait, 0)
            await pilot.pause(0.05)
        await wait_for(lambda: app.run_state.status == "done", pilot)
        assert app.screen.query_one(LossChart).train == [(1, 3.0), (2, 1.5), (3, 1.0)]
        assert ran == ["merge"]


async def test_stop_finishes_the_step_then_reports_stopped(tmp_path: Path) -> None:
    app, held, ran = held_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await asyncio.to_thread(held.in_step.wait, 10)
        await pilot.press("x")
        assert app.run_state.status == "stopping"
        held.release.set()
        await wait_for(lambda: app.run_state.status == "stopped", pilot)
        assert held.stopped_at == 1 and app.run_state.checkpoint == "checkpoint-1" and ran == []
        assert any("stop requested" in line for line in app.run_state.log)


async def test_quit_during_a_run_waits_for_the_checkpoint(tmp_path: Path) -> None:
    app, held, ran = held_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await asyncio.to_thread(held.in_step.wait, 10)
        await pilot.press("q")
        assert app.is_running and app.run_state.status == "stopping"
        held.release.set()
        await wait_for(lambda: not app.is_running, pilot)
    assert held.stopped_at == 1 and app.run_state.status == "stopped" and ran == []
