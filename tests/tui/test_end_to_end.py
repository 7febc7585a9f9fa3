"""The whole app on a tiny model: validate -> pick the recipe -> train -> watch the loss -> export.

Everything is real: the pipeline trains a tiny random Qwen2 (built by tests/fixtures) for a few
steps on the test scenarios, merges it and exports a GGUF through the quant ladder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from textual.pilot import Pilot
from textual.widgets import OptionList

from tests.fixtures.tiny_models import tiny_models, tiny_qwen2
from tests.tui.conftest import build_app, write_project
from tui.app import DndtuneApp
from tui.screens.export import ExportScreen
from tui.widgets.export.quant_ladder import QuantLadder
from tui.widgets.train.loss_chart import LossChart

__all__ = ["tiny_models", "tiny_qwen2"]

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Torch's spinning thread pool makes a tiny step slow on shared cores, and the UI shares them too.
torch.set_num_threads(1)


def tiny_recipe(model: Path, project: Path, out: Path) -> str:
    return json.dumps({
        "base_model": {"name_or_path": str(model), "dtype": "float32"},
        # Tiny tokenizers spend many tokens per word: the prompt with the tool schema needs room.
        "data": {"scenarios_dir": str(project / "training-data"), "max_seq_length": 2048,
                 "augment": {"enabled": False}, "eval_fraction": 0.34},
        "lora": {"r": 4, "alpha": 8},
        "train": {"max_steps": 6, "batch_size": 1, "grad_accum": 1, "lr": 0.005, "save_steps": 2, "eval_steps": 2,
                  "early_stopping_patience": None, "gradient_checkpointing": False, "engine": "trl"},
        "target": {"size_limit": "50MB", "quant_ladder": ["F16", "Q8_0", "Q4_0"]},
        "output": {"dir": str(out), "run_name": "tiny"},
    })


async def until(pilot: Pilot[None], predicate: object, seconds: float) -> None:
    assert callable(predicate)
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"not reached in {seconds} s")


async def test_validate_pick_train_export(tiny_qwen2: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", {})
    (project / "recipes" / "tiny.yaml").write_text(tiny_recipe(tiny_qwen2, project, tmp_path / "out"))
    broken = project / "training-data" / "social" / "haggling-with-the-ferryman.md"
    app: DndtuneApp = build_app(project, screen="scenarios", recipe=None, watch_interval=0.1, memory_interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        # Validate: one file is broken; fixing it on disk turns the summary green.
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "errors 1" in str(app.screen.query_one("#scenario-summary").content)
        broken.write_text(broken.read_text().replace("= 17 vs", "= 15 vs"))
        await until(pilot, lambda: "errors 0" in str(app.screen.query_one("#scenario-summary").content), 20)

        # Pick the recipe on the Recipe screen.
        await pilot.press("3")
        options = app.screen.query_one(OptionList)
        options.focus()
        names = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        options.highlighted = names.index("tiny")
        await pilot.press("enter")
        await pilot.pause()
        assert app.recipe is not None and app.recipe.base_model.name_or_path == str(tiny_qwen2)

        # Train: the loss pane fills in as steps arrive.
        await pilot.press("4", "s")
        await until(pilot, lambda: len(app.run_state.train_loss) >= 2, 600)
        chart = app.screen.query_one(LossChart)
        await pilot.pause()
        assert len(chart.train) >= 2 and all(loss > 0 for _, loss in chart.train)
        await until(pilot, lambda: not app.run_state.active, 900)
        assert app.run_state.status == "done", list(app.run_state.log)[-10:]
        assert app.run_state.step == 6 and app.run_state.eval_loss

        # Export: the ladder, the chosen file and its verification.
        await pilot.press("5")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert app.screen.query_one(QuantLadder).row_count == len(app.run_state.quant_tries) > 0
        assert app.run_state.export_path is not None and Path(app.run_state.export_path).is_file()
        assert app.run_state.verified is True and app.run_state.samples.get("dm_reply")

    # Reopening the app on the same recipe shows the finished run and its export from disk.
    again = build_app(project, screen="export", recipe="tiny")
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        state = again.run_state
        assert state.status == "done" and state.step == 6 and len(state.train_loss) == 6
        assert state.export_path == app.run_state.export_path and state.verified is True
        assert again.screen.query_one(QuantLadder).row_count == len(state.quant_tries) > 0
