"""The evaluation's scores: the goals (model | base | goal | ok) and the other headline figures below them."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dndtune.evaluate.goals import GOALS, format_score, goal_rows, mark
from dndtune.evaluate.report import HEADLINE, EvalReport, format_value
from tui.widgets.export.goals import MARK_STYLES, verdict_text

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
