"""Two versions side by side, as ``dndtune models compare`` prints them: scores, size, speed, ratings, a sample."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dndtune.evaluate.report import HEADLINE, format_value
from dndtune.registry import ModelVersion
from dndtune.registry.compare import rating_text, rating_verdict

SHORT_LABELS = {"recall": "roll recall", "precision": "roll precision", "perplexity": "perplexity",
                "regression_pass_rate": "regression"}


def _fmt(value: float | int | None, kind: str = "score") -> str:
    return format_value(kind, value)


def _rating(v: ModelVersion) -> str:
    return f"{v.ratings.mean:.2f} ({v.ratings.count})" if v.ratings.mean is not None else "-"


def compare_renderable(a: ModelVersion, b: ModelVersion) -> RenderableType:
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1), header_style="bold", expand=False)
    table.add_column("", style="dim", no_wrap=True)
    table.add_column(f"A {a.name}", justify="right", no_wrap=True, max_width=14)
    table.add_column(f"B {b.name}", justify="right", no_wrap=True, max_width=14)
    table.add_row("quant", a.quant or "-", b.quant or "-")
    table.add_row("base model", Path(a.base_model).name if a.base_model else "-",
                  Path(b.base_model).name if b.base_model else "-")
    table.add_row("size", _fmt(a.size_bytes, "size_bytes"), _fmt(b.size_bytes, "size_bytes"))
    for key, (label, _) in HEADLINE.items():
        label = SHORT_LABELS.get(key, label)
        kind = "perplexity" if key == "perplexity" else "score"
        table.add_row(label, _fmt(a.scores.get(key), kind), _fmt(b.scores.get(key), kind))
    table.add_row("player rating", _rating(a), _rating(b))
    table.add_row("tokens/s", _fmt(a.perf.tokens_per_second if a.perf else None, "tokens_per_second"),
                  _fmt(b.perf.tokens_per_second if b.perf else None, "tokens_per_second"))
    table.add_row("memory", _fmt(a.perf.peak_rss_bytes if a.perf else None, "rss_bytes"),
                  _fmt(b.perf.peak_rss_bytes if b.perf else None, "rss_bytes"))
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
        parts.append(Text(f"{candidate.name} is the promoted version · rated {rating_text(candidate.ratings)}",
                          style="green"))
    elif warnings:
        parts.extend(Text(f"⚠ {candidate.name}: {w}", style="yellow") for w in warnings)
    else:
        parts.append(Text(f"✓ {candidate.name}: not slower, larger or worse than the promoted {promoted.name}",
                          style="green"))
    return Group(*parts)
