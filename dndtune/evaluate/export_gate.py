"""The export's task-accuracy gate, built on ``dndtune eval``: a candidate GGUF against the f16 file.

:func:`task_gate` returns the :data:`dndtune.export.gate.TaskGate` the pipeline's export stage and
``dndtune export`` hand to :func:`dndtune.export.run.export_run`. Each file is run through
:func:`~dndtune.evaluate.evaluator.evaluate` on the run's held-out split (the f16 file once) and
compared with :func:`~dndtune.evaluate.gate.pick_quant` on the scores ``target.gate.scores`` lists;
``roll_f1`` (F1 of roll tool calls, from the same counts as precision and recall) is compared the
same way, as an absolute drop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from dndtune.evaluate.evaluator import EvalOptions, evaluate
from dndtune.evaluate.examples import EvalExample, load_jsonl
from dndtune.evaluate.gate import Tolerance, pick_quant
from dndtune.evaluate.open_model import open_runner
from dndtune.evaluate.report import HEADLINE, EvalReport
from dndtune.events import NullSink
from dndtune.export.gate import REFERENCE_LABEL, GateVerdict, TaskGate
from dndtune.export.targets import ExportTarget
from dndtune.recipe.schema import EvaluateSection
from dndtune.runs import RunLayout


def roll_f1(report: EvalReport) -> float | None:
    """F1 of roll tool calls over the DM turns (None when no turn expected or made a call)."""
    t = report.tool_calls
    denominator = 2 * t.true_positive + t.false_positive + t.false_negative
    return 2 * t.true_positive / denominator if denominator else None


def gate_scores(report: EvalReport, keys: Sequence[str]) -> dict[str, float | None]:
    headline = report.headline()
    return {key: roll_f1(report) if key == "roll_f1" else headline.get(key) for key in keys}


def compare(reference: EvalReport, candidate: EvalReport, keys: Sequence[str], tolerance: float) -> list[str]:
    """Why ``candidate`` is outside the gate (empty: within it), by :func:`pick_quant` and roll F1."""
    ignored = {key: math.inf for key in HEADLINE if key not in keys}
    decision = pick_quant(reference, [candidate], Tolerance(score_drop=tolerance, perplexity_rise=tolerance,
                                                            per_metric=ignored))
    gated_labels = tuple(HEADLINE[key][0] for key in keys if key in HEADLINE)
    failures = [f for f in decision.checks[0].failures if f.startswith(gated_labels)] if gated_labels else []
    if "roll_f1" in keys:
        base, value = roll_f1(reference), roll_f1(candidate)
        if base is not None and (value is None or value < base - tolerance):
            shown = "not measured" if value is None else f"{value:.3f} < {base:.3f} - {tolerance:.3f}"
            failures.insert(0, f"roll F1 {shown}")
    return failures


def gate_options(target: ExportTarget, section: EvaluateSection) -> EvalOptions:
    """The recipe's evaluate budget, without the regression suite (the gate is about the held-out split)."""
    turns = target.gate_max_turns if target.gate_max_turns is not None else section.max_turns
    return EvalOptions(max_tokens=section.max_tokens, max_turns=turns, samples=0, regression=False,
                       perplexity="perplexity" in target.gate_scores, grammar=section.grammar)


class _Gate:
    def __init__(self, examples: list[EvalExample], source: str, target: ExportTarget, options: EvalOptions) -> None:
        self.examples, self.source, self.target, self.options = examples, source, target, options
        self.references: dict[Path, EvalReport] = {}

    def _evaluate(self, path: Path, label: str) -> EvalReport:
        runner = open_runner(path, label=label)
        try:
            # The gate reports through the export's own events; the evaluator's stage events would
            # read as a second stage starting in the middle of the export.
            return evaluate(runner, self.examples, options=self.options, events=NullSink(), source=self.source)
        finally:
            runner.close()

    def __call__(self, candidate: Path, label: str, reference: Path) -> GateVerdict:
        ref = self.references.get(reference)
        if ref is None:
            ref = self.references[reference] = self._evaluate(reference, REFERENCE_LABEL)
        report = self._evaluate(candidate, label)
        keys = self.target.gate_scores
        failures = compare(ref, report, keys, self.target.gate_tolerance)
        return GateVerdict(label=label, scores=gate_scores(report, keys), reference_scores=gate_scores(ref, keys),
                           passed=not failures, failures=tuple(failures), turns=report.data.evaluated_turns,
                           reference_bytes=reference.stat().st_size)


def task_gate(layout: RunLayout, target: ExportTarget, section: EvaluateSection | None = None) -> TaskGate | None:
    """The gate on ``layout``'s held-out split, or None when the run has none to evaluate on."""
    split = layout.eval_split
    if not split.is_file() or not split.read_text(encoding="utf-8").strip():
        return None
    options = gate_options(target, section or EvaluateSection())
    return _Gate(load_jsonl(split), str(split), target, options)
