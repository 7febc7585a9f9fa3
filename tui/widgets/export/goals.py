"""The evaluate stage's goals table: score | model | base | goal | ok, and a one-line verdict."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dndtune.evaluate.goals import GoalRow, format_score, mark

MARK_STYLES = {True: "green", False: "red", None: "dim"}


def goals_renderable(rows: list[GoalRow], note: str | None) -> RenderableType:
    """The rows as a compact table (fits 40 columns), or ``note`` / a hint when nothing was evaluated."""
    if not rows:
        return Text(note or "Scored after export: the model and the base model on the held-out scenarios.",
                    style="dim")
    return Group(goals_table(rows), verdict_text(rows))


def goals_table(rows: list[GoalRow]) -> Table:
    """score | model | base | goal | ok, one row a goal (the Evaluate screen adds its other figures below)."""
    table = Table(box=None, show_edge=False, pad_edge=False, collapse_padding=True, padding=(0, 1),
                  header_style="bold dim")
    table.add_column("score", no_wrap=True)
    table.add_column("model", justify="right", no_wrap=True)
    table.add_column("base", justify="right", no_wrap=True, style="dim")
    table.add_column("goal", no_wrap=True)
    table.add_column("ok", no_wrap=True)
    for row in rows:
        table.add_row(row.label, Text(format_score(row.value), style="bold"), format_score(row.baseline), row.goal,
                      Text(mark(row.met), style=MARK_STYLES[row.met]))
    return table


def verdict_text(rows: list[GoalRow]) -> Text:
    missed = sum(1 for r in rows if r.met is False)
    unmeasured = sum(1 for r in rows if r.met is None)
    if missed:
        return Text(f"misses {missed} of {len(rows)} goals", style="bold red")
    if unmeasured:
        return Text(f"meets {len(rows) - unmeasured} of {len(rows)} goals, {unmeasured} not measured", style="yellow")
    return Text(f"meets all {len(rows)} goals", style="bold green")
