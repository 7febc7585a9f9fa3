"""``dndtune models list`` as a table: one row per version, the promoted one starred."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dndtune.evaluate.report import format_value
from dndtune.registry import ModelVersion


class VersionsTable(DataTable[Text | str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        # The star column has a fixed width: sized from its content, it changed with what the first
        # refresh happened to hold, and the table shifted by a column between two draws.
        self.add_column("", width=1)
        self.add_columns("run", "quant", "size", "recall", "exact", "rating", "tok/s", "status")

    def show(self, versions: list[ModelVersion], pinned: str | None) -> None:
        keep = self.cursor_row
        self.clear()
        for v in versions:
            mark = Text("*", style="bold green") if v.promoted else Text("")
            name = Text(v.name, style="bold" if v.promoted else "")
            if v.name == pinned:
                name.append(" A", style="cyan")
            rating = f"{v.ratings.mean:.1f} ({v.ratings.count})" if v.ratings.mean is not None else "-"
            tps = format_value("tokens_per_second", v.perf.tokens_per_second if v.perf else None)
            self.add_row(mark, name, v.quant or "-", format_value("size_bytes", v.size_bytes),
                         format_value("score", v.scores.get("recall")),
                         format_value("score", v.scores.get("exact_skill")), rating, tps, v.status or "-",
                         key=v.name)
        if versions:
            self.move_cursor(row=min(keep, len(versions) - 1))
