"""Two versions side by side, as ``dndtune models compare`` prints them: scores, size, speed, ratings, a sample."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dndtune.registry import ModelVersion
from dndtune.registry.compare import comparison_rows, rating_text, rating_verdict

SHORT_LABELS = {"recall": "roll recall", "precision": "roll precision", "perplexity": "perplexity",
                "regression_pass_rate": "regression"}


def compare_renderable(a: ModelVersion, b: ModelVersion) -> RenderableType:
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1), header_style="bold", expand=False)
    table.add_column("", style="dim", no_wrap=True)
    table.add_column(f"A {a.name}", justify="right", no_wrap=True, max_width=14)
    table.add_column(f"B {b.name}", justify="right", no_wrap=True, max_width=14)
    for row in comparison_rows(a, b, SHORT_LABELS):
        table.add_row(*row)
    return table


def samples_renderable(a: ModelVersion, b: ModelVersion, samples: int = 3) -> RenderableType:
    """The players' ratings weighed, then sample replies of both versions to the same prompts."""
    parts: list[RenderableType] = [Text("player ratings: " + rating_verdict(a.name, a.ratings, b.name, b.ratings),
                                        style="italic")]
    parts.extend(_samples(a, b, samples))
    return Group(*parts)


def _samples(a: ModelVersion, b: ModelVersion, limit: int) -> list[RenderableType]:
    if a.report is None or b.report is None:
        return [Text("sample replies: evaluate both runs first (screen 6)", style="dim")]
    theirs = {(s.source, s.turn): s for s in b.report.samples}
    out: list[RenderableType] = []
    for sample in a.report.samples:
        other = theirs.get((sample.source, sample.turn))
        if other is None:
            continue
        out.extend([Text(""), Text(f"{Path(sample.source).name} turn {sample.turn}, after: {sample.prompt[:80]}",
                                   style="bold")])
        for name, reply in ((f"A {a.name}", sample.reply), (f"B {b.name}", other.reply)):
            shown = reply.strip() or f"(nothing but whitespace, {len(reply)} characters)"
            out.append(Text.assemble((f"{name}: ", "bold cyan"), shown))
        if len(out) >= 4 * limit:
            break
    if not out:
        out.append(Text("sample replies: the two evaluations share no prompts", style="dim"))
    return out


def alerts_renderable(candidate: ModelVersion | None, promoted: ModelVersion | None, warnings: list[str],
                      registry_warning: str | None = None) -> RenderableType:
    """``models check`` for the version under the cursor: its warnings against the promoted one."""
    parts: list[RenderableType] = []
    if registry_warning:
        parts.append(Text(f"⚠ {registry_warning}", style="bold yellow"))
    if candidate is None:
        parts.append(Text("No versions yet: a run appears here once it has trained.", style="dim"))
    elif promoted is None:
        parts.append(Text(f"{candidate.name}: nothing promoted yet, nothing to compare against (p promotes it)",
                          style="dim"))
    elif promoted.name == candidate.name:
        rated = rating_text(candidate.ratings)
        rated = rated if rated == "unrated" else f"rated {rated}"
        parts.append(Text(f"{candidate.name} is the promoted version · {rated}", style="green"))
    elif warnings:
        parts.extend(Text(f"⚠ {candidate.name}: {w}", style="yellow") for w in warnings)
    else:
        parts.append(Text(f"✓ {candidate.name}: not slower, larger or worse than the promoted {promoted.name}",
                          style="green"))
    return Group(*parts)
