"""Memory in use at each step (GPU allocated, or process RAM on CPU) against what the machine has."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from tui.format import size
from tui.run_state import RunState


def memory_text(state: RunState, total: int | None) -> Text:
    used = state.memory[-1] if state.memory else None
    peak = max([*state.memory, state.peak_memory or 0]) or None
    text = Text.assemble((f"{state.memory_device or 'memory'}\n", "bold underline"),
                         ("now  ", "dim"), (size(used), "bold"))
    if state.memory_reserved is not None:
        text.append_text(Text.assemble(("\nres. ", "dim"), (size(state.memory_reserved), "bold")))
    text.append_text(Text.assemble(("\npeak ", "dim"), (size(peak), "bold")))
    text.append_text(Text.assemble(("\nof   ", "dim"), (size(total), "bold")))
    if peak is not None and total:
        share = peak / total
        text.append(f" ({share:.0%})", style="red" if share > 0.9 else "yellow" if share > 0.75 else "green")
    return text


class MemoryPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="memory-figures")
        yield Sparkline([], id="memory-spark")

    def show(self, state: RunState, total: int | None) -> None:
        self.query_one("#memory-figures", Static).update(memory_text(state, total))
        self.query_one(Sparkline).data = [float(b) for b in state.memory]
