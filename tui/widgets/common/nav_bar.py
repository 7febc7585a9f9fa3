"""The top line of every screen: the five screens by number, the current one lit, and the run's status."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.run_state import RunState

SCREENS: tuple[tuple[str, str], ...] = (
    ("environment", "Environment"),
    ("scenarios", "Scenarios"),
    ("recipe", "Recipe"),
    ("train", "Train"),
    ("export", "Export"),
)


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

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for number, (mode, title) in enumerate(SCREENS, start=1):
            style = "reverse bold" if mode == self.current else ""
            line.append(f" {number} ", style=style or "bold")
            line.append(f"{title} ", style=style)
        badge = run_badge(self.state)
        gap = self.size.width - line.cell_len - badge.cell_len
        if badge and gap > 0:
            line.append(" " * gap)
            line.append_text(badge)
        return line
