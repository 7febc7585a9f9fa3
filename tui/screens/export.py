"""Export: the quant ladder as it runs, the goals scored, the chosen GGUF, its checks and a sample reply."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from tui.format import size
from tui.run_state import RunState
from tui.screens.base import LiveRunScreen
from tui.widgets.export.gate import gate_renderable, read_gate
from tui.widgets.export.goals import goals_renderable
from tui.widgets.export.quant_ladder import QuantLadder

SAMPLE_TITLES = {"dm_reply": "sample DM reply", "roll_reply": "reply after a roll"}


def result_renderable(state: RunState, size_limit: int | None) -> RenderableType:
    parts: list[RenderableType] = [Text.assemble(("size limit ", "dim"), (size(size_limit), "bold"))]
    if state.export_path is None:
        if state.quant_tries or state.stage == "export":
            parts.append(Text("exporting…", style="yellow"))
        else:
            parts.append(Text("Nothing exported yet: a run exports after training and merging (screen 4).",
                              style="dim"))
    else:
        path = Path(state.export_path)
        parts.append(Text.assemble(("file ", "dim"), (path.name, "bold green")))
        parts.append(Text.assemble(("size ", "dim"), (size(state.export_bytes), "bold"),
                                   f" ({state.export_quant})" if state.export_quant else ""))
        parts.append(Text("saved in", style="dim"))
        parts.append(Text(str(path.parent), overflow="fold"))
    verified = state.verified
    if verified is not None:
        passed = sum(1 for c in state.verify if c.passed)
        head = Text("verified" if verified else "verification failed", style="bold green" if verified else "bold red")
        head.append(f"  {passed}/{len(state.verify)} checks passed", style="dim")
        parts.extend([Text(""), head])
        for check in state.verify:
            mark, style = ("✓", "green") if check.passed else (("✗", "red") if check.required else ("!", "yellow"))
            parts.append(Text.assemble((f" {mark} ", style), check.name))
            if not check.passed:
                # The event reads "FAILED name: why"; under the name only the why is needed.
                why = check.message.partition(": ")[2] or check.message
                parts.append(Padding(Text(why, style=f"italic {style}"), (0, 0, 0, 3)))
    gate = gate_renderable(read_gate(state.manifest_path))
    if gate is not None:
        parts.extend([Text(""), gate])
    for key, reply in state.samples.items():
        shown = Text(reply.strip()) if reply.strip() else Text("(only whitespace: the model has not learned "
                                                               "to answer yet)", style="italic yellow")
        parts.extend([Text(""), Text(SAMPLE_TITLES.get(key, key), style="bold underline"),
                      Padding(shown, (0, 0, 0, 1))])
    return Group(*parts)


class ExportScreen(LiveRunScreen):
    MODE = "export"

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        with Horizontal(id="export-body"):
            with Vertical(id="export-left"):
                yield QuantLadder(id="quant-ladder")
                yield Static(id="export-goals")
            with VerticalScroll(id="export-result"):
                yield Static(id="export-result-body")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#quant-ladder").border_title = "quant ladder"
        self.query_one("#export-goals").border_title = "goals"
        self.query_one("#export-result").border_title = "result"
        self.redraw()

    def redraw(self) -> None:
        state = self.dndtune.run_state
        recipe = self.dndtune.recipe
        self.query_one(QuantLadder).show(state.quant_tries, state.export_quant)
        self.query_one("#export-goals", Static).update(goals_renderable(state.goals, state.verdict))
        limit = recipe.target.size_limit if recipe is not None else None
        self.query_one("#export-result-body", Static).update(result_renderable(state, limit))
