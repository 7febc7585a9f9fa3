"""Train: live loss (train and eval), memory over time, progress with ETA, a log; stop and resume."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import RichLog, Static

from dndtune.env.environment import EnvReport
from tui.screens.base import LiveRunScreen
from tui.widgets.train.loss_chart import LossChart
from tui.widgets.train.memory_pane import MemoryPane
from tui.widgets.train.progress_pane import ProgressPane


def machine_memory_total(environment: EnvReport | None) -> int | None:
    """What the memory pane measures against: the first GPU's VRAM when training on CUDA, else RAM."""
    if environment is None:
        return None
    if environment.backend == "cuda" and environment.gpus:
        return environment.gpus[0].total_bytes
    return environment.ram_total


class TrainScreen(LiveRunScreen):
    MODE = "train"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Train/resume"),
        Binding("x", "stop", "Stop at checkpoint"),
        Binding("l", "focus_log", "Log", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._log_seen = 0

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        yield Static(id="train-recipe")
        yield ProgressPane(id="train-progress")
        with Horizontal(id="train-panes"):
            with Vertical(id="loss-box"):
                yield LossChart(id="loss-chart")
            with Vertical(id="memory-box"):
                yield MemoryPane(id="memory-pane")
        yield RichLog(id="train-log", wrap=True, markup=False, max_lines=500)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#loss-box").border_title = "loss"
        self.query_one("#memory-box").border_title = "memory"
        self.query_one("#train-log").border_title = "log"
        self.watch(self.app, "recipe", self._show_recipe)
        self.redraw()

    def _show_recipe(self) -> None:
        recipe = self.dndtune.recipe
        label = Text("recipe ", style="dim")
        if recipe is None:
            label.append("none: pick one on the Recipe screen (3)", style="bold red")
        else:
            name = recipe.source_path.stem if recipe.source_path is not None else "(edited)"
            model = recipe.base_model.name_or_path or recipe.base_model.profile or "?"
            steps = f"{recipe.train.max_steps} steps" if recipe.train.max_steps else f"{recipe.train.epochs:g} epochs"
            label.append_text(Text.assemble((name, "bold"), f" · {model} · {steps} · run ",
                                            (recipe.output.run_name, "bold")))
        self.query_one("#train-recipe", Static).update(label)

    def redraw(self) -> None:
        state = self.dndtune.run_state
        self._show_recipe()
        self.query_one(ProgressPane).show(state)
        self.query_one(LossChart).set_data(state.train_loss, state.eval_loss)
        total = state.memory_total or machine_memory_total(self.dndtune.environment)
        self.query_one(MemoryPane).show(state, total)
        log = self.query_one(RichLog)
        if self._log_seen > state.log_count:
            # A new run started: its log replaces the old one.
            log.clear()
            self._log_seen = 0
        for line in state.new_log_lines(self._log_seen):
            log.write(Text(line, style="red" if "error:" in line else ""))
        self._log_seen = state.log_count

    def action_start(self) -> None:
        self.dndtune.start_run()

    def action_stop(self) -> None:
        if not self.dndtune.stop_run():
            self.notify("Nothing is training.", severity="warning")

    def action_focus_log(self) -> None:
        self.query_one(RichLog).focus()
