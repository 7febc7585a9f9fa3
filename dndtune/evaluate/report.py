"""The evaluation report: typed scores, ``eval.json`` in the run folder, a table and a PNG chart.

``eval.json`` holds one :class:`EvalReport` per evaluated model (the run's GGUF first, then the
models it was compared with: base model, fp16, each quant of the ladder). The registry, the
export quality gate and ``models compare`` all read it through :func:`read_eval_file`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from dndtune import __version__
from dndtune.atomic import atomic_path, write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.evaluate.consistency import ConsistencyScores
from dndtune.evaluate.quality import QualityScores
from dndtune.evaluate.regression import RegressionReport
from dndtune.evaluate.toolcalls import ToolCallScores

SCHEMA_VERSION = 1

Direction = Literal["higher", "lower"]
GrammarState = Literal["applied", "not applied", "off"]

HEADLINE: dict[str, tuple[str, Direction]] = {
    "recall": ("tool-call recall", "higher"),
    "precision": ("tool-call precision", "higher"),
    "exact_skill": ("exact skill", "higher"),
    "json_validity": ("JSON validity", "higher"),
    "consistency": ("uses roll result", "higher"),
    "coherence": ("coherence", "higher"),
    "in_role_rate": ("stays in role", "higher"),
    "stop_rate": ("stops cleanly", "higher"),
    "regression_pass_rate": ("regression suite", "higher"),
    "perplexity": ("DM-turn perplexity", "lower"),
}
"""The scores compared across models, their labels and which way is better."""


class ModelInfo(BaseModel):
    label: str
    kind: str
    path: str
    family: str
    quant: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    context_length: int | None = None


class DataInfo(BaseModel):
    source: str
    conversations: int = 0
    turns: int = 0
    evaluated_turns: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    """Turns that could not be run, by reason (template rejects the conversation, too long)."""


class PerfScores(BaseModel):
    tokens_per_second: float | None = None
    """Median decode speed over the generated replies on this machine."""
    mean_reply_seconds: float | None = None
    load_seconds: float | None = None
    rss_bytes: int | None = None
    machine: str = ""


class Sample(BaseModel):
    source: str
    turn: int
    prompt: str
    """The last user or tool message before the turn."""
    reference: str
    reply: str
    expected_calls: list[str] = Field(default_factory=list)
    predicted_calls: list[str] = Field(default_factory=list)
    outcome: str | None = None


class EvalReport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    dndtune_version: str = __version__
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    model: ModelInfo
    data: DataInfo
    max_tokens: int
    grammar: GrammarState | None = None
    """Whether replies were constrained to the roll grammar: ``applied`` (llama.cpp), ``not applied``
    (asked for, but the runtime has no grammar sampler: transformers, the Cactus engine), ``off``
    (``--no-grammar``); None in reports written before dndtune recorded it."""
    tool_calls: ToolCallScores
    consistency: ConsistencyScores
    quality: QualityScores
    judges: dict[str, float] = Field(default_factory=dict)
    perf: PerfScores = Field(default_factory=PerfScores)
    regression: RegressionReport | None = None
    samples: list[Sample] = Field(default_factory=list)

    def headline(self) -> dict[str, float | None]:
        """The comparable scores (keys of :data:`HEADLINE`)."""
        t, q = self.tool_calls, self.quality
        return {
            "recall": t.recall, "precision": t.precision, "exact_skill": t.exact_skill,
            "json_validity": t.json_validity, "consistency": self.consistency.consistency,
            "coherence": q.coherence, "in_role_rate": q.in_role_rate, "stop_rate": q.stop_rate,
            "regression_pass_rate": self.regression.pass_rate if self.regression else None,
            "perplexity": q.perplexity,
        }


class EvalFile(BaseModel):
    schema_version: int = SCHEMA_VERSION
    primary: str
    """Label of the report about the run's own model (what the registry shows)."""
    reports: list[EvalReport]

    def primary_report(self) -> EvalReport:
        return next((r for r in self.reports if r.model.label == self.primary), self.reports[0])


def write_eval_file(path: Path, reports: list[EvalReport], primary: str | None = None) -> Path:
    if not reports:
        raise DndtuneError("nothing was evaluated", fix="pass at least one model")
    doc = EvalFile(primary=primary or reports[0].model.label, reports=reports)
    write_text_atomic(path, doc.model_dump_json(indent=2) + "\n")
    return path


def read_eval_file(path: Path) -> EvalFile | None:
    """The stored evaluation, or None when the run has not been evaluated."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return EvalFile.model_validate_json(raw)
    except ValidationError as exc:
        raise DndtuneError(f"eval.json is not a dndtune evaluation ({exc.error_count()} problem(s))", path=str(path),
                           fix="rerun `dndtune eval` on the run") from None


def format_value(key: str, value: float | int | None) -> str:
    if value is None:
        return "-"
    if key == "perplexity":
        return f"{value:.2f}" if value < 1e6 else f"{value:.2e}"
    if key in ("size_bytes", "rss_bytes"):
        return f"{value / 1e6:.1f} MB"
    if key == "tokens_per_second":
        return f"{value:.1f}"
    return f"{100 * value:.1f}%"


def comparison_rows(reports: list[EvalReport]) -> list[tuple[str, list[str]]]:
    """(label, one formatted value per report) for the side-by-side table, in :data:`HEADLINE` order."""
    rows: list[tuple[str, list[str]]] = [("quant", [r.model.quant or "-" for r in reports]),
            ("size", [format_value("size_bytes", r.model.size_bytes) for r in reports]),
            ("grammar", [r.grammar or "-" for r in reports])]
    for key, (label, _) in HEADLINE.items():
        rows.append((label, [format_value(key, r.headline()[key]) for r in reports]))
    rows.append(("tokens/s (this machine)", [format_value("tokens_per_second", r.perf.tokens_per_second)
                                              for r in reports]))
    names = sorted({name for r in reports for name in r.judges})
    rows.extend((f"judge: {name}", [format_value(name, r.judges.get(name)) for r in reports]) for name in names)
    return rows


def plot_comparison(reports: list[EvalReport], path: Path) -> Path:
    """A grouped bar chart of the 0-1 headline scores (plus perplexity on its own axis), as a PNG."""
    # The object API, not pyplot: no global figure state, no GUI backend needed.
    from matplotlib.figure import Figure

    keys = [k for k, (_, d) in HEADLINE.items() if d == "higher"]
    labels = [HEADLINE[k][0] for k in keys]
    fig = Figure(figsize=(13, 4.8))
    bars, ppl = fig.subplots(1, 2, gridspec_kw={"width_ratios": [4, 1]})
    width = 0.8 / max(1, len(reports))
    for i, report in enumerate(reports):
        scores = report.headline()
        values = [scores[k] if scores[k] is not None else 0.0 for k in keys]
        positions = [x + i * width for x in range(len(keys))]
        bars.bar(positions, values, width=width, label=report.model.label)
        for x, key in zip(positions, keys, strict=True):
            if scores[key] is None:
                # Not measured (no tool turns, no result turns...): say so rather than draw a zero.
                bars.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="grey")
    bars.set_xticks([x + width * (len(reports) - 1) / 2 for x in range(len(keys))])
    bars.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    bars.set_ylim(0, 1.05)
    bars.set_ylabel("score (higher is better)")
    bars.legend(fontsize=8)
    perplexities = [r.quality.perplexity or 0.0 for r in reports]
    ppl.bar(range(len(reports)), perplexities, color=[f"C{i}" for i in range(len(reports))])
    ppl.set_xticks(range(len(reports)))
    ppl.set_xticklabels([r.model.label for r in reports], rotation=30, ha="right", fontsize=8)
    ppl.set_title("perplexity (lower is better)", fontsize=9)
    if perplexities and max(perplexities) > 100 * max(min(perplexities), 1e-9):
        ppl.set_yscale("log")
    fig.suptitle("dndtune evaluation")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def report_json(reports: list[EvalReport]) -> str:
    """What ``dndtune eval --format json`` prints."""
    return json.dumps([r.model_dump(mode="json") for r in reports], indent=2)
