"""One line of totals under the scenario tree: what the dataset will be built from."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dndtune.scenario.loader import LoadResult


def summary_text(result: LoadResult) -> Text:
    examples = sum(len(s.dm_turns) for s in result.scenarios)
    tool_calls = sum(len(s.tool_calls) for s in result.scenarios)
    errors, warnings = len(result.errors), len(result.warnings)
    text = Text.assemble(
        ("scenarios ", "dim"), (f"{len(result.scenarios)}/{result.files}", "bold"),
        ("  DM replies ", "dim"), (str(examples), "bold"),
        ("  tool calls ", "dim"), (str(tool_calls), "bold"),
        ("  errors ", "dim"), (str(errors), "bold red" if errors else "bold green"),
        ("  warnings ", "dim"), (str(warnings), "bold yellow" if warnings else "bold"),
    )
    return text


class SummaryBar(Static):
    def show(self, result: LoadResult) -> None:
        self.update(summary_text(result))
