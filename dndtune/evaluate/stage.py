"""The pipeline's ``evaluate`` stage: the exported GGUF on the held-out split, the base model beside it, the goals.

Runs :func:`dndtune.evaluate.evaluate` on the file the export stage chose, with the recipe's
``evaluate:`` budget, on ``<run>/dataset/eval.jsonl`` (whole scenarios held out). The base model's
scores come from :mod:`.baseline` (computed once, cached). Both reports go to ``<run>/eval.json``,
the file ``dndtune eval`` writes and ``dndtune models`` reads; the verdict against
:mod:`.goals` goes to ``run.json`` and to an ``evaluate.goals`` event the run summary and the TUI show.

A rerun that changes nothing (same GGUF, split and settings) reuses the stored report instead of
generating every reply again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune import __version__
from dndtune.errors import DndtuneError
from dndtune.evaluate.baseline import Baseline, base_baseline, split_hash, suite_hash
from dndtune.evaluate.evaluator import EvalOptions, evaluate
from dndtune.evaluate.examples import load_jsonl
from dndtune.evaluate.goals import Verdict, judge
from dndtune.evaluate.open_model import open_runner
from dndtune.evaluate.report import EvalReport, read_eval_file, write_eval_file
from dndtune.events import BaselineFailed, EvaluateCached, EvaluateSkipped, EventSink, GoalsJudged, Level
from dndtune.hashing import sha256_file
from dndtune.recipe.schema import EvaluateSection
from dndtune.runs import RunLayout

STAGE = "evaluate"


@dataclass(frozen=True)
class EvaluateInput:
    """What the stage needs from the run: the exported file, the base model, the recipe's budget."""

    layout: RunLayout
    section: EvaluateSection
    gguf: Path | None
    """The file the export stage chose (``None`` when it made none)."""
    gguf_sha256: str | None
    """Its sha256 as the export recorded it (hashed again when missing)."""
    base_model: Path
    base_template: str
    previous: dict[str, Any]
    """The ``evaluate`` section of the previous ``run.json`` in this folder (``{}`` when none)."""
    events: EventSink


@dataclass(frozen=True)
class Skipped:
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"skipped": self.reason}


@dataclass(frozen=True)
class EvaluateResult:
    report: EvalReport
    baseline: Baseline | None
    verdict: Verdict
    eval_file: Path
    fingerprint: str
    reused: bool
    """The model's report came from the previous run (nothing changed)."""

    def as_dict(self) -> dict[str, Any]:
        """The ``evaluate`` section of ``run.json``."""
        data = self.report.data
        base = self.baseline
        return {
            "eval_file": str(self.eval_file),
            "model": {"label": self.report.model.label, "path": self.report.model.path,
                      "sha256": self.report.model.sha256, "created": self.report.created},
            "turns": {"evaluated": data.evaluated_turns, "total": data.turns, "skipped": data.skipped,
                      "source": data.source},
            "grammar": self.report.grammar,
            "scores": scores(self.report),
            "baseline": None if base is None else {
                "label": base.report.model.label, "path": base.report.model.path, "cached": base.cached,
                "cache_file": str(base.cache_file), "turns": base.report.data.evaluated_turns,
                "grammar": base.report.grammar, "scores": scores(base.report)},
            **self.verdict.as_dict(),
            "fingerprint": self.fingerprint,
            "reused": self.reused,
        }


def scores(report: EvalReport) -> dict[str, float | None]:
    """The headline scores plus the goals' other figures."""
    return {**report.headline(), "false_call_rate": report.tool_calls.false_call_rate,
            "leak_rate": report.quality.leak_rate}


def options_for(section: EvaluateSection) -> EvalOptions:
    return EvalOptions(max_tokens=section.max_tokens, max_turns=section.max_turns, regression=section.regression,
                       grammar=section.grammar)


def baseline_options(section: EvaluateSection) -> EvalOptions:
    limits = [n for n in (section.max_turns, section.baseline_max_turns) if n is not None]
    return EvalOptions(max_tokens=section.max_tokens, max_turns=min(limits) if limits else None,
                       regression=section.regression, grammar=section.grammar)


def _skip(run: EvaluateInput, why: str, *, level: Level = "warning") -> Skipped:
    run.events.emit(EvaluateSkipped(message=f"evaluation skipped: {why}", level=level, reason=why))
    return Skipped(why)


def _fingerprint(gguf_sha: str, split_digest: str, options: EvalOptions) -> str:
    parts = {"gguf": gguf_sha, "split": split_digest, "max_tokens": options.max_tokens,
             "max_turns": options.max_turns, "regression": options.regression, "grammar": options.grammar,
             "suite": suite_hash() if options.regression else None, "dndtune": __version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _previous_report(previous: dict[str, Any], fingerprint: str, eval_file: Path) -> EvalReport | None:
    """The model's report from the last run, when nothing it depends on changed since."""
    if previous.get("fingerprint") != fingerprint:
        return None
    try:
        stored = read_eval_file(eval_file)
    except DndtuneError:
        return None
    if stored is None:
        return None
    report = stored.primary_report()
    # `dndtune eval` may have rewritten eval.json since (other settings): only the run's own report counts.
    created = previous.get("model", {}).get("created") if isinstance(previous.get("model"), dict) else None
    return report if report.created == created else None


def evaluate_run(run: EvaluateInput) -> EvaluateResult | Skipped:
    """Score ``run.gguf`` (and the base model) on the run's held-out split; :class:`Skipped` says why not."""
    section = run.section
    if not section.enabled:
        return _skip(run, "evaluate.enabled is false in the recipe", level="info")
    gguf = run.gguf if run.gguf is not None and run.gguf.is_file() else None
    if gguf is None:
        return _skip(run, "the export stage produced no GGUF")
    split = run.layout.eval_split
    if not split.is_file() or not split.read_text(encoding="utf-8").strip():
        return _skip(run, f"no held-out conversations in {split} (set data.eval_fraction > 0)")
    options = options_for(section)
    split_digest = split_hash(split)
    gguf_sha = run.gguf_sha256 or sha256_file(gguf)
    fingerprint = _fingerprint(gguf_sha, split_digest, options)
    eval_file = run.layout.eval_json
    report = _previous_report(run.previous, fingerprint, eval_file)
    reused = report is not None
    if report is not None:
        run.events.emit(EvaluateCached(message=f"model unchanged since the last run: reusing {eval_file}",
                                       path=str(eval_file)))
    else:
        runner = open_runner(gguf, label=gguf.stem)
        try:
            report = evaluate(runner, load_jsonl(split), options=options, events=run.events, source=str(split))
        finally:
            runner.close()
    baseline = _baseline(run, split) if section.baseline else None
    reports = [report] if baseline is None else [report, baseline.report]
    write_eval_file(eval_file, reports, primary=report.model.label)
    verdict = judge(report, baseline.report if baseline is not None else None)
    result = EvaluateResult(report=report, baseline=baseline, verdict=verdict, eval_file=eval_file,
                            fingerprint=fingerprint, reused=reused)
    run.events.emit(GoalsJudged(message=verdict.summary(), level="info" if not verdict.missed else "warning",
                                rows=[r.as_dict() for r in verdict.rows], eval_file=str(eval_file),
                                verdict=verdict.summary(), model=report.model.label))
    return result


def _baseline(run: EvaluateInput, split: Path) -> Baseline | None:
    """The base model's report; a base that cannot be run here is a warning, not a failed run."""
    try:
        return base_baseline(run.base_model, run.base_template, split, baseline_options(run.section), run.events)
    except DndtuneError as exc:
        run.events.emit(BaselineFailed(message=f"no base model scores: {exc}"))
        return None
