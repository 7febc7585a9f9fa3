"""Step, epoch, loss, learning rate, speed and ETA on one line, with a progress bar under it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from tui.format import duration, number
from tui.run_state import RunState


def progress_text(state: RunState) -> Text:
    steps = f"{state.step}/{state.max_steps}" if state.max_steps else str(state.step)
    loss = state.train_loss[-1][1] if state.train_loss else None
    return Text.assemble(
        ("step ", "dim"), (steps, "bold"),
        ("  epoch ", "dim"), (number(state.epoch, ".2f"), "bold"),
        ("  loss ", "dim"), (number(loss, ".4f"), "bold"),
        ("  lr ", "dim"), (number(state.lr, ".2e"), "bold"),
        ("  tok/s ", "dim"), (number(state.tokens_per_s, ".0f"), "bold"),
        ("  ETA ", "dim"), (duration(state.eta_s), "bold"),
    )


STATUS_HELP = {
    "idle": "Press s to train on the current recipe.",
    "running": "Training. x stops after this step and saves a checkpoint.",
    "stopping": "Stopping: finishing the current step, then saving a checkpoint…",
    "stopped": "Stopped at a checkpoint. s resumes from it.",
    "done": "Finished. The Export screen (5) shows the exported file.",
    "failed": "The run failed; the log below says why. Fix it and press s to retry.",
}


class ProgressPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="progress-status")
        yield Static(id="progress-figures")
        yield ProgressBar(total=None, show_eta=False, id="progress-bar")

    def show(self, state: RunState) -> None:
        self.query_one("#progress-status", Static).update(Text(STATUS_HELP[state.status], style="italic"))
        self.query_one("#progress-figures", Static).update(progress_text(state))
        bar = self.query_one(ProgressBar)
        if state.max_steps:
            bar.update(total=state.max_steps, progress=state.step)
        else:
            # Indeterminate (animated) only while something runs; a still bar otherwise.
            bar.update(total=None if state.active else 1, progress=0)
