"""Every action of the app by name, for the command palette (ctrl+p)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import DndtuneApp


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    mode: str | None
    """Screen the action belongs to (the palette switches there first); None for app actions."""
    action: str


COMMANDS: tuple[Command, ...] = (
    Command("Show environment", "Doctor checks, GPU/CPU, memory, optional engines", "environment", ""),
    Command("Re-check environment", "Run the doctor again", "environment", "recheck"),
    Command("Show scenarios", "The training-data tree and validation messages", "scenarios", ""),
    Command("Validate scenarios", "Re-read and re-validate every scenario file", "scenarios", "validate"),
    Command("Edit selected scenario", "Open the selected file in $EDITOR", "scenarios", "edit"),
    Command("Show recipe", "Pick and edit the training recipe", "recipe", ""),
    Command("Save recipe as…", "Write the edited recipe to recipes/<name>.yaml", "recipe", "save"),
    Command("Show training", "Loss curve, memory, progress and log", "train", ""),
    Command("Start or resume training", "Run the pipeline on the current recipe", "train", "start"),
    Command("Stop training", "Finish the current step, save a checkpoint, stop", "train", "stop"),
    Command("Show export", "Quant ladder, chosen file, verification, sample reply", "export", ""),
    Command("Show evaluation", "Scores against the goals and the base model, turns, chart", "evaluate", ""),
    Command("Evaluate run", "Run `dndtune eval` on the shown run (latest by default)", "evaluate", "evaluate"),
    Command("Evaluate next run", "Show the next run's evaluation", "evaluate", "next_run"),
    Command("Play", "Chat with the exported model, real dice, rate replies", "play", ""),
    Command("Restart play scene", "Start the chosen scene again with the chosen model", "play", "restart"),
    Command("Show models", "Versions, compare two, check against the promoted one", "models", ""),
    Command("Promote selected version", "Mark the version under the cursor as deployed (asks first)", "models",
            "promote"),
    Command("Roll back promoted version", "Bring back the version promoted before (asks first)", "models",
            "rollback"),
    Command("Compare with selected version", "Pin the version under the cursor as A", "models", "pin"),
    Command("Quit", "Leave (a running training stops at a checkpoint first)", None, "app.quit"),
)


class DndtuneCommands(Provider):
    """Matches the query against command titles; the help line says what each one does."""

    def _run(self, command: Command) -> None:
        app = cast("DndtuneApp", self.app)
        app.run_worker(app.run_command(command.mode, command.action), group="palette")

    async def discover(self) -> Hits:
        for command in COMMANDS:
            yield DiscoveryHit(command.title, partial(self._run, command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in COMMANDS:
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), partial(self._run, command), help=command.help)
