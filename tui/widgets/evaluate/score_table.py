"""The evaluation's scores: the goals (model | base | goal | ok) and the other headline figures below them."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dndtune.evaluate.goals import GOALS, format_score, goal_rows
from dndtune.evaluate.report import HEADLINE, EvalReport, format_value
from tui.widgets.export.goals import goals_table, verdict_text

EXTRA_LABELS = {"consistency": "uses roll result", "coherence": "coherence", "in_role_rate": "stays in role",
                "perplexity": "perplexity"}
"""Headline scores that are not goals, shown under them (short labels: the pane is 40 columns)."""


def _figure(key: str, value: float | None) -> str:
    if key == "perplexity":
        return format_value(key, value)
    return format_score(value)


def scores_renderable(report: EvalReport | None, base: EvalReport | None, note: str | None = None) -> RenderableType:
    """The table the Evaluate screen shows; ``note`` (or a hint) when there is no report yet."""
    if report is None:
        return Text(note or "No evaluation yet: press e to evaluate this run.", style="dim")
    rows = goal_rows(report, base)
    table = goals_table(rows)
    goal_keys = {g.key for g in GOALS}
    ours, theirs = report.headline(), base.headline() if base is not None else {}
    for key in HEADLINE:
        if key in goal_keys or key not in EXTRA_LABELS:
            continue
        table.add_row(Text(EXTRA_LABELS[key], style="dim"), Text(_figure(key, ours.get(key)), style="bold"),
                      _figure(key, theirs.get(key)), "", "")
    speed = report.perf.tokens_per_second
    base_speed = base.perf.tokens_per_second if base is not None else None
    table.add_row(Text("tokens/s", style="dim"), Text(format_value("tokens_per_second", speed), style="bold"),
                  format_value("tokens_per_second", base_speed), "", "")
    parts: list[RenderableType] = [table, verdict_text(rows)]
    if base is None:
        parts.append(Text("no base-model report in eval.json", style="dim italic"))
    return Group(*parts)
