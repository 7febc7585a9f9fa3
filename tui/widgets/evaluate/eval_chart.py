"""The eval chart in the terminal: one row per 0-1 headline score, the model's bar over the base model's.

Each cell is a half block: the top half is the model (cyan), the bottom half the base model
(magenta), so two bars share one row and nine scores fit in eleven rows.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text

from dndtune.evaluate.report import HEADLINE, EvalReport, format_value

MODEL_COLOR = "cyan"
BASE_COLOR = "magenta"
LABEL_WIDTH = 12
SHORT_LABELS = {"recall": "recall", "precision": "precision", "exact_skill": "exact skill",
                "json_validity": "JSON valid", "consistency": "uses result", "coherence": "coherence",
                "in_role_rate": "in role", "stop_rate": "stops", "regression_pass_rate": "regression"}


def _cells(value: float | None, width: int) -> int:
    return 0 if value is None else round(max(0.0, min(1.0, value)) * width)


def bar_row(model: float | None, base: float | None, width: int) -> Text:
    """``width`` cells: the model's share as the top half of each cell, the base model's as the bottom half."""
    m, b = _cells(model, width), _cells(base, width)
    out = Text()
    for i in range(width):
        top, bottom = i < m, i < b
        if top and bottom:
            out.append("▀", style=Style(color=MODEL_COLOR, bgcolor=BASE_COLOR))
        elif top:
            out.append("▀", style=MODEL_COLOR)
        elif bottom:
            out.append("▄", style=BASE_COLOR)
        else:
            out.append("·" if i == width - 1 else " ", style="dim")
    return out


def chart_renderable(report: EvalReport | None, base: EvalReport | None, width: int) -> RenderableType:
    if report is None:
        return Text("The chart appears after an evaluation.", style="dim")
    ours, theirs = report.headline(), base.headline() if base is not None else {}
    bar_width = max(4, width - LABEL_WIDTH - 5)
    legend = Text.assemble(("▀ ", MODEL_COLOR), (report.model.label[:20], ""), "  ")
    if base is not None:
        legend.append_text(Text.assemble(("▄ ", BASE_COLOR), base.model.label[:12]))
    lines: list[RenderableType] = [legend]
    for key, (_, direction) in HEADLINE.items():
        if direction != "higher":
            continue
        row = Text(SHORT_LABELS.get(key, key)[:LABEL_WIDTH].ljust(LABEL_WIDTH), style="dim")
        row.append_text(bar_row(ours.get(key), theirs.get(key), bar_width))
        value = ours.get(key)
        if value is None:
            row.append(" n/a", style="dim")
        else:
            row.append(f" {round(100 * value):>3}", style="bold")
        lines.append(row)
    ppl = Text("perplexity".ljust(LABEL_WIDTH), style="dim")
    ppl.append(format_value("perplexity", ours.get("perplexity")), style=f"bold {MODEL_COLOR}")
    if base is not None:
        ppl.append(" vs ")
        ppl.append(format_value("perplexity", theirs.get("perplexity")), style=BASE_COLOR)
    lines.append(ppl)
    return Group(*lines)
