"""The top line of every screen: the screens by number, the current one lit, and the run's status."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.run_state import RunState
from tui.screen_names import SCREENS

SHORT_TITLES: dict[str, str] = {"environment": "Env", "scenarios": "Scen", "evaluate": "Eval"}
"""Titles of the screens not shown when the full ones and the run badge do not fit the line (80 columns)."""


def run_badge(state: RunState) -> Text:
    """A few words on the run, so it stays visible from every screen."""
    if state.status == "idle":
        return Text("")
    if state.status in ("running", "stopping"):
        where = f"{state.step}/{state.max_steps}" if state.max_steps else state.stage or "starting"
        verb = "stopping" if state.status == "stopping" else "running"
        return Text(f"● {verb} {where}", style="bold yellow")
    styles = {"done": "bold green", "stopped": "bold cyan", "failed": "bold red"}
    return Text(f"● {state.status}", style=styles.get(state.status, ""))


class NavBar(Widget):
    """Shows where the user is; switching is done by the app's number keys."""

    def __init__(self, current: str, state: RunState) -> None:
        super().__init__()
        self.current = current
        self.state = state

    def _titles(self, level: int) -> Text:
        """Level 0: every title; 1: short titles beside the current one; 2: numbers beside it."""
        line = Text(no_wrap=True, overflow="ellipsis")
        for number, (mode, title) in enumerate(SCREENS, start=1):
            current = mode == self.current
            style = "reverse bold" if current else ""
            line.append(f" {number} ", style=style or "bold")
            if current or level == 0:
                line.append(f"{title} ", style=style)
            elif level == 1:
                line.append(f"{SHORT_TITLES.get(mode, title)} ", style="dim")
        return line

    def render(self) -> Text:
        badge = run_badge(self.state)
        line = self._titles(0)
        for level in (1, 2):
            if line.cell_len + badge.cell_len < self.size.width:
                break
            line = self._titles(level)
        gap = self.size.width - line.cell_len - badge.cell_len
        if badge and gap > 0:
            line.append(" " * gap)
            line.append_text(badge)
        return line
