"""Environment: the doctor's checklist for the current recipe, and what this machine has."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from dndtune.env.checks import check_environment, check_recipe
from dndtune.env.environment import EnvReport
from dndtune.env.report import Check
from dndtune.recipe.schema import Recipe
from tui.screens.base import DndtuneScreen
from tui.widgets.environment.checklist import Checklist, summary_text
from tui.widgets.environment.machine_panel import MachinePanel


class ChecksReady(Message):
    def __init__(self, checks: list[Check]) -> None:
        super().__init__()
        self.checks = checks


class EnvironmentScreen(DndtuneScreen):
    MODE = "environment"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "recheck", "Re-check")]

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        with Horizontal(id="env-body"):
            yield Checklist(id="env-checks")
            yield MachinePanel("…", id="env-machine")
        yield Static("collecting facts about this machine…", id="env-summary")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#env-checks").border_title = "doctor"
        self.query_one("#env-machine").border_title = "this machine"
        self.watch(self.app, "environment", self._environment_changed)
        self.watch(self.app, "recipe", self._environment_changed)

    def action_recheck(self) -> None:
        self.query_one("#env-summary", Static).update("collecting facts about this machine…")
        self.dndtune.refresh_environment()

    def _environment_changed(self) -> None:
        env = self.dndtune.environment
        if env is None:
            return
        self.query_one(MachinePanel).show(env)
        self._check(env, self.dndtune.recipe)

    @work(thread=True, exclusive=True, group="doctor")
    def _check(self, env: EnvReport, recipe: Recipe | None) -> None:
        # Locating the model and reading its config touch the disk: kept off the UI thread.
        checks = check_recipe(recipe, env) if recipe is not None else check_environment(env)
        self.post_message(ChecksReady(checks))

    def on_checks_ready(self, message: ChecksReady) -> None:
        self.query_one(Checklist).show(message.checks)
        summary = summary_text(message.checks)
        if self.dndtune.recipe is None:
            summary.append("  (no recipe picked: machine checks only)", style="dim")
        self.query_one("#env-summary", Static).update(summary)
        if not message.checks:
            self.query_one("#env-summary", Static).update(Text("no checks ran", style="red"))
