"""The export's quant ladder as it is walked: each type tried, its predicted and real size, the verdict."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.format import size
from tui.run_state import QuantTry

OUTCOMES = {
    "skipped": ("over limit", "red"),
    "too-big": ("too big", "red"),
    "passed": ("fits", "green"),
    "chosen": ("chosen", "bold green"),
    "superseded": ("fits", "green"),
    "gate-failed": ("quality", "yellow"),
    "not-tried": ("not needed", "dim"),
}


def outcome_cell(attempt: QuantTry, chosen: str | None) -> Text:
    if chosen is not None and attempt.quant == chosen:
        return Text("chosen", style="bold green")
    if attempt.outcome in OUTCOMES:
        label, style = OUTCOMES[attempt.outcome]
        return Text(label, style=style)
    if attempt.fits is None:
        return Text("…", style="dim")
    return Text("fits", style="green") if attempt.fits else Text("over limit", style="red")


class QuantLadder(DataTable[Text | str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("quant", "predicted", "actual", "result")

    def show(self, tries: list[QuantTry], chosen: str | None) -> None:
        self.clear()
        for attempt in tries:
            self.add_row(Text(attempt.quant, style="bold"), size(attempt.predicted_bytes), size(attempt.actual_bytes),
                         outcome_cell(attempt, chosen))
