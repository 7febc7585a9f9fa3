"""Every screen at 80x24 with fixed data; a layout change shows up as a snapshot diff.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and
look at the SVGs in ``tests/tui/__snapshots__/`` before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from dndtune.events import (
    CheckpointSaved,
    Event,
    ExportDone,
    GoalsJudged,
    PipelineStage,
    QuantTried,
    RunFinished,
    TrainBegan,
    TrainEval,
    TrainStep,
    VerifyChecked,
)
from tests.tui.conftest import build_app
from tui.memory_probe import MemorySample
from tui.messages import PipelineEvent
from tui.run_state import apply_memory

Compare = Callable[..., bool]


async def settle(pilot: Pilot[None]) -> None:
    """Let workers (doctor, validation) finish and the screen redraw."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def train_events() -> list[Event]:
    """Thirty steps of a sixty-step run with evaluations and a checkpoint: a run caught mid-way."""
    events = [PipelineStage(stage="pipeline", message="fine-tune LoRA adapters", state="start"),
              TrainBegan(message="training from step 0 to 60", step=0, max_steps=60)]
    for step in range(1, 31):
        loss = 3.4 * 0.93**step + 0.6 + (0.08 if step % 4 == 0 else 0.0)
        events.append(TrainStep(message=f"step {step}/60", step=step, max_steps=60, epoch=step / 20, loss=loss,
                                lr=2e-4 * (1 - step / 60), grad_norm=1.1, tokens_per_s=812.0, eta_s=30 * 4.2,
                                mem_bytes=2_400_000_000 + step * 5_000_000))
        if step % 10 == 0:
            events.append(TrainEval(message=f"step {step} eval loss {loss + 0.2:.4f}", step=step, eval_loss=loss + 0.2))
        if step == 20:
            events.append(CheckpointSaved(message="checkpoint saved at step 20", step=20,
                                          path="training-output/runs/snapshot/checkpoints/checkpoint-20"))
    return events


def export_events() -> list[Event]:
    tries = [("Q8_0", 292_000_000, False, None, "skipped"), ("Q6_K", 225_000_000, False, None, "skipped"),
             ("Q5_K_M", 199_000_000, True, 203_000_000, "too-big"), ("Q4_K_M", 181_000_000, True, 180_400_000,
                                                                       "passed")]
    events = [QuantTried(message=q, quant=q, predicted_bytes=p, fits=f, actual_bytes=a, outcome=o, perplexity=None)
              for q, p, f, a, o in tries]
    for name, passed, required in (("loads", True, True), ("chat_template", True, True),
                                   ("end_of_turn_is_eog", True, True), ("logit_parity", True, True),
                                   ("stops_at_end_of_turn", True, False), ("tool_call_parses", False, False)):
        detail = "as expected" if passed else "roll prompt produced no parseable tool call"
        events.append(VerifyChecked(message=f"{'ok' if passed else 'FAILED'} {name}: {detail}",
                                    level="info" if passed else "warning", rung="Q4_K_M", check=name, passed=passed,
                                    required=required))
    events.append(ExportDone(message="snapshot-Q4_K_M.gguf: 180.4 MB",
                             gguf="training-output/runs/snapshot/export/snapshot-Q4_K_M.gguf", quant="Q4_K_M",
                             bytes=180_400_000, manifest="out/model.json", sha256="0" * 64, perplexity=None,
                             gen_tps=None))
    rows = [("recall", "roll recall", 1.0, 0.0, ">= 0.95", True), ("precision", "roll precision", 0.93, None, ">= 0.90",
             True), ("false_call_rate", "false call rate", 0.02, 0.0, "<= 0.05", True),
            ("exact_skill", "exact skill", 0.4, None, ">= 0.85", False),
            ("json_validity", "JSON validity", 1.0, None, ">= 1.00", True),
            ("stop_rate", "stops cleanly", 0.81, 0.05, ">= 0.95", False),
            ("leak_rate", "leak rate", 0.0, 0.12, "<= 0.00", True),
            ("regression_pass_rate", "regression suite", 0.86, 0.21, ">= 1.00", False)]
    events.append(GoalsJudged(message="the model misses 3 of 8 goals", level="warning",
                              rows=[{"key": k, "label": label, "value": v, "baseline": b, "goal": g, "met": m}
                                    for k, label, v, b, g, m in rows],
                              verdict="the model misses 3 of 8 goals", eval_file="eval.json", model="snapshot-Q4_K_M"))
    events.append(RunFinished(message="run completed", status="completed", run_dir="training-output/runs/snapshot"))
    return events


class TestScreens:
    def test_environment(self, snap_compare: Compare, project: Path) -> None:
        assert snap_compare(build_app(project), terminal_size=(80, 24), run_before=settle)

    def test_scenarios(self, snap_compare: Compare, project: Path) -> None:
        assert snap_compare(build_app(project, screen="scenarios"), terminal_size=(80, 24), run_before=settle)

    def test_scenarios_broken_file(self, snap_compare: Compare, project: Path) -> None:
        async def to_broken_file(pilot: Pilot[None]) -> None:
            await settle(pilot)
            await pilot.press("end")
            await pilot.pause()

        assert snap_compare(build_app(project, screen="scenarios"), terminal_size=(80, 24), run_before=to_broken_file)

    def test_recipe(self, snap_compare: Compare, project: Path) -> None:
        assert snap_compare(build_app(project, screen="recipe"), terminal_size=(80, 24), run_before=settle)

    def test_recipe_invalid_edit(self, snap_compare: Compare, project: Path) -> None:
        async def bad_lr(pilot: Pilot[None]) -> None:
            await settle(pilot)
            field = pilot.app.screen.query_one("#field-train-lr", Input)
            field.focus()
            field.value = "-1"
            await pilot.pause()

        assert snap_compare(build_app(project, screen="recipe"), terminal_size=(80, 24), run_before=bad_lr)

    def test_train(self, snap_compare: Compare, project: Path) -> None:
        async def mid_run(pilot: Pilot[None]) -> None:
            app = pilot.app
            app.run_state.status = "running"  # as start_run leaves it; the events come from the fixed list
            for event in train_events():
                app.post_message(PipelineEvent(event))
            for second in range(40):
                used = 1_900_000_000 + min(second, 12) * 45_000_000 + (second % 3) * 20_000_000
                apply_memory(app.run_state, MemorySample(device="RAM", used=used, reserved=None, total=16 * 2**30))
            await settle(pilot)

        assert snap_compare(build_app(project, screen="train"), terminal_size=(80, 24), run_before=mid_run)

    def test_export(self, snap_compare: Compare, project: Path) -> None:
        async def exported(pilot: Pilot[None]) -> None:
            app = pilot.app
            app.run_state.status = "running"
            for event in export_events():
                app.post_message(PipelineEvent(event))
            await settle(pilot)
            # Verification's sample replies are read from the export manifest; a fixed one here.
            app.run_state.samples = {"dm_reply": "The ferryman squints at the coin, then at you. "
                                                 "\"Three gold, and you row.\" Roll Persuasion if you want it "
                                                 "for two."}
            await app.screen.run_action("app.show('train')")
            await app.screen.run_action("app.show('export')")
            await settle(pilot)

        assert snap_compare(build_app(project, screen="export"), terminal_size=(80, 24), run_before=exported)
