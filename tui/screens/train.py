"""Train: live loss (train and eval), memory over time, progress with ETA, a log; stop and resume.

Above the panes, what a run would do with the recipe's versions: resume the unfinished one, write
a new version (with what changed since the last: scenario files added / edited / removed, recipe
fields), or nothing at all. ``s`` does that; ``n`` starts a new version from scratch.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import RichLog, Static

from dndtune.env.environment import EnvReport
from dndtune.errors import DndtuneError
from dndtune.pipeline.plan import VersionPreview, preview_version
from dndtune.recipe.schema import Recipe
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
        Binding("n", "start_over", "New version from scratch"),
        Binding("x", "stop", "Stop at checkpoint"),
        Binding("l", "focus_log", "Log", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._log_seen = 0
        self._shown_status = ""

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        yield Static(id="train-recipe")
        yield Static(id="train-version")
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
        self.watch(self.app, "recipe", self._preview_version)
        self.redraw()

    def _preview_version(self) -> None:
        recipe = self.dndtune.recipe
        if recipe is not None and not self.dndtune.run_state.active:
            self._find_version(recipe)

    @work(thread=True, exclusive=True, group="train-version")
    def _find_version(self, recipe: Recipe) -> None:
        """Hashing the scenario files is quick, but it is disk work: never on the UI thread."""
        try:
            preview: VersionPreview | str = preview_version(recipe, stages=self.dndtune.stage_names())
        except DndtuneError as exc:
            preview = str(exc)
        self.app.call_from_thread(self._show_version, preview)

    def _show_version(self, preview: VersionPreview | str) -> None:
        if self.dndtune.run_state.active:  # a run started meanwhile: its own log says which version
            return
        # The answer comes from a thread: the screen may have been taken down (the app quitting) while
        # it hashed, so there may be no line left to update.
        for line in self.query("#train-version").results(Static):
            line.update(version_line(preview))

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
        if state.active:
            self.query_one("#train-version", Static).update("")
        elif state.status in ("done", "failed", "stopped") and self._shown_status != state.status:
            self._preview_version()  # the run just ended: what the next one would do has changed
        self._shown_status = state.status
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

    def action_start_over(self) -> None:
        self.dndtune.start_run(resume=False)

    def action_stop(self) -> None:
        if not self.dndtune.stop_run():
            self.notify("Nothing is training.", severity="warning")

    def action_focus_log(self) -> None:
        self.query_one(RichLog).focus()


def version_line(preview: VersionPreview | str) -> Text:
    """``s: new version demo-v2 — 1 scenario edited (combat/goblins.md)`` and the like, for the screen."""
    if isinstance(preview, str):
        return Text(preview, style="red")
    choice = preview.choice
    name = choice.layout.name
    line = Text("s ", style="bold")
    match choice.reason:
        case "unchanged":
            line.append(f"nothing changed since run {name}: nothing to train")
        case "resume":
            action = preview.actions()["train"]
            line.append(f"continue {name}: train {action}")
        case "complete":
            line.append(f"finish {name}: run the stages it has not run")
        case "first":
            line.append(f"train the first version, {name}")
        case _:
            changes = choice.changes.summary() if choice.changes is not None else "inputs changed"
            since = choice.previous.name if choice.previous is not None else "the last run"
            line.append(f"new version {name}; since {since}: {changes}")
    line.append("  ·  n ", style="dim")
    line.append("new version from scratch", style="dim")
    return line
