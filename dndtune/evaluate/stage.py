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
from typing import TYPE_CHECKING, Any

from dndtune import __version__
from dndtune.errors import DndtuneError
from dndtune.evaluate.baseline import Baseline, base_baseline, split_hash, suite_hash
from dndtune.evaluate.evaluator import EvalOptions, evaluate
from dndtune.evaluate.goals import Verdict, judge
from dndtune.evaluate.report import EVAL_FILE, EvalReport, read_eval_file, write_eval_file
from dndtune.events import Event, Level
from dndtune.hashing import sha256_file

if TYPE_CHECKING:
    from dndtune.pipeline import RunContext

STAGE = "evaluate"
EVAL_SPLIT = Path("dataset") / "eval.jsonl"


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


def options_for(ctx: RunContext) -> EvalOptions:
    section = ctx.recipe.evaluate
    return EvalOptions(max_tokens=section.max_tokens, max_turns=section.max_turns, regression=section.regression,
                       grammar=section.grammar)


def baseline_options(ctx: RunContext) -> EvalOptions:
    section = ctx.recipe.evaluate
    limits = [n for n in (section.max_turns, section.baseline_max_turns) if n is not None]
    return EvalOptions(max_tokens=section.max_tokens, max_turns=min(limits) if limits else None,
                       regression=section.regression, grammar=section.grammar)


def exported_gguf(ctx: RunContext) -> Path | None:
    """The file the export stage chose, when it made one."""
    raw = getattr(ctx.export, "gguf", None)
    if raw is None and hasattr(ctx.export, "as_dict"):
        raw = ctx.export.as_dict().get("gguf")
    path = Path(raw) if raw else None
    return path if path is not None and path.is_file() else None


def _skip(ctx: RunContext, why: str, *, level: Level = "warning") -> None:
    ctx.events.emit(Event(STAGE, "evaluate.skipped", f"evaluation skipped: {why}", level=level,
                          data={"reason": why}))
    ctx.record["evaluate"] = {"skipped": why}


def _fingerprint(gguf_sha: str, split_digest: str, options: EvalOptions) -> str:
    parts = {"gguf": gguf_sha, "split": split_digest, "max_tokens": options.max_tokens,
             "max_turns": options.max_turns, "regression": options.regression, "grammar": options.grammar,
             "suite": suite_hash() if options.regression else None, "dndtune": __version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _previous_report(ctx: RunContext, fingerprint: str, eval_file: Path) -> EvalReport | None:
    """The model's report from the last run, when nothing it depends on changed since."""
    previous = ctx.previous.get("evaluate")
    if not isinstance(previous, dict) or previous.get("fingerprint") != fingerprint:
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


def evaluate_run(ctx: RunContext) -> EvaluateResult | None:
    section = ctx.recipe.evaluate
    if not section.enabled:
        _skip(ctx, "evaluate.enabled is false in the recipe", level="info")
        return None
    gguf = exported_gguf(ctx)
    if gguf is None:
        _skip(ctx, "the export stage produced no GGUF")
        return None
    split = ctx.layout.root / EVAL_SPLIT
    if not split.is_file() or not split.read_text(encoding="utf-8").strip():
        _skip(ctx, f"no held-out conversations in {split} (set data.eval_fraction > 0)")
        return None
    from dndtune.evaluate.examples import load_jsonl
    from dndtune.evaluate.runner import open_runner

    options = options_for(ctx)
    split_digest = split_hash(split)
    export_record = ctx.record.get("export")
    recorded_sha = export_record.get("sha256") if isinstance(export_record, dict) else None
    gguf_sha = str(recorded_sha or sha256_file(gguf))
    fingerprint = _fingerprint(gguf_sha, split_digest, options)
    eval_file = ctx.layout.root / EVAL_FILE
    report = _previous_report(ctx, fingerprint, eval_file)
    reused = report is not None
    if report is not None:
        ctx.events.emit(Event(STAGE, "evaluate.cached", f"model unchanged since the last run: reusing {eval_file}",
                              data={"path": str(eval_file)}))
    else:
        runner = open_runner(gguf, label=gguf.stem)
        try:
            report = evaluate(runner, load_jsonl(split), options=options, events=ctx.events, source=str(split))
        finally:
            runner.close()
    baseline = _baseline(ctx, split) if section.baseline else None
    reports = [report] if baseline is None else [report, baseline.report]
    write_eval_file(eval_file, reports, primary=report.model.label)
    verdict = judge(report, baseline.report if baseline is not None else None)
    result = EvaluateResult(report=report, baseline=baseline, verdict=verdict, eval_file=eval_file,
                            fingerprint=fingerprint, reused=reused)
    ctx.record["evaluate"] = result.as_dict()
    ctx.events.emit(Event(STAGE, "evaluate.goals", verdict.summary(),
                          level="info" if not verdict.missed else "warning",
                          data={"rows": [r.as_dict() for r in verdict.rows], "eval_file": str(eval_file),
                                "verdict": verdict.summary(), "model": report.model.label}))
    return result


def _baseline(ctx: RunContext, split: Path) -> Baseline | None:
    """The base model's report; a base that cannot be run here is a warning, not a failed run."""
    model = ctx.require("model")
    template = ctx.templates.inference if ctx.templates is not None else model.profile.chat_template
    try:
        return base_baseline(model.path, template, split, baseline_options(ctx), ctx.events)
    except DndtuneError as exc:
        ctx.events.emit(Event(STAGE, "evaluate.baseline.failed", f"no base model scores: {exc}", level="warning"))
        return None
