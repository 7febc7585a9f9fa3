"""The doctor's checklist: one row per check, pass / warn / fail with the reason and the fix under it."""

from __future__ import annotations

from collections import Counter

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from dndtune.env.report import Check, worst

MARKS = {"pass": ("✓", "bold green"), "warn": ("!", "bold yellow"), "fail": ("✗", "bold red")}


def checks_table(checks: list[Check]) -> Table:
    """Mark, name and message in columns, so a wrapped message stays under its own column."""
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1, no_wrap=True)
    table.add_column(width=9, no_wrap=True)
    table.add_column(ratio=1)
    for check in checks:
        mark, style = MARKS[check.status]
        table.add_row(Text(mark, style=style), Text(check.name, style="bold"), Text(check.message, overflow="fold"))
        if check.fix:
            colour = style.split()[-1]
            fix = Text.assemble(("fix: ", f"bold {colour}"), (check.fix, f"italic {colour}"), overflow="fold")
            table.add_row("", "", fix)
    return table


def summary_text(checks: list[Check]) -> Text:
    counts = Counter(c.status for c in checks)
    verdict = {"pass": ("ready to train", "bold green"), "warn": ("can train; read the warnings", "bold yellow"),
               "fail": ("fix the failed checks before training", "bold red")}[worst(checks)]
    return Text.assemble(
        (f"{counts['pass']} pass", "green"), "  ", (f"{counts['warn']} warn", "yellow"), "  ",
        (f"{counts['fail']} fail", "red"), "  ", verdict,
    )


class Checklist(VerticalScroll, can_focus=True):
    def compose(self) -> ComposeResult:
        yield Static("checking this machine…", id="checklist-body")

    def show(self, checks: list[Check]) -> None:
        self.query_one("#checklist-body", Static).update(checks_table(checks))
