"""What an earlier run of the current recipe left on disk, shown when the app opens.

A run stopped with ``x`` or ``q`` (or killed) keeps its checkpoints; reopening the app shows
its curve and says that ``s`` resumes it. A finished run shows its export. Everything is read
from the run folder the pipeline wrote: ``run.json`` (with the evaluate stage's goals), ``metrics.jsonl``
and the export manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError
from dndtune.evaluate.goals import GoalRow
from dndtune.export.manifest import ExportManifest, read_manifest
from dndtune.runs import RunLayout
from tui.run_state import QuantTry, RunState, RunStatus, VerifyCheck, seed_history

# A run.json still saying "running" belongs to a process that died mid-run: its checkpoints resume.
STATUSES: dict[str, RunStatus] = {"completed": "done", "stopped": "stopped", "running": "stopped",
                                  "failed": "failed"}


def load_previous_run(state: RunState, layout: RunLayout) -> bool:
    """Fill an idle ``state`` from ``layout``'s files; False (state untouched) when there is no earlier run."""
    record = layout.read_record()
    if not record:
        return False
    fresh = RunState(status=STATUSES.get(str(record.get("status")), "stopped"))
    train = record.get("train") if isinstance(record.get("train"), dict) else {}
    assert isinstance(train, dict)
    fresh.step = int(train.get("step") or 0)
    fresh.max_steps = int(train["max_steps"]) if train.get("max_steps") else None
    try:
        lines = layout.metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    seed_history(fresh, lines, up_to_step=fresh.step or 10**9)
    if fresh.step == 0 and fresh.train_loss:
        fresh.step = fresh.train_loss[-1][0]
    if record.get("error"):
        fresh.error = str(record["error"])
    export = record.get("export")
    if isinstance(export, dict) and export.get("manifest"):
        _load_export(fresh, Path(str(export["manifest"])))
    evaluation = record.get("evaluate")
    if isinstance(evaluation, dict):
        _load_evaluation(fresh, evaluation)
    where = f"step {fresh.step}" + (f" of {fresh.max_steps}" if fresh.max_steps else "")
    fresh.add_log(f"[tui] earlier run in {layout.root}: {record.get('status')} at {where}")
    if fresh.error:
        fresh.add_log(f"[tui] error: {fresh.error}")
    state.reset()
    state.__dict__.update(fresh.__dict__)
    return True


def _load_export(state: RunState, manifest_path: Path) -> None:
    try:
        manifest: ExportManifest = read_manifest(manifest_path)
    except DndtuneError as exc:
        state.add_log(f"[tui] warning: {exc}")
        return
    state.quant_tries = [QuantTry(quant=t.rung, predicted_bytes=t.predicted_bytes, fits=t.fits,
                                  actual_bytes=t.actual_bytes, outcome=t.outcome, perplexity=t.perplexity)
                         for t in manifest.ladder]
    state.verify = [VerifyCheck(name=str(c.get("name")), passed=bool(c.get("passed")),
                                required=bool(c.get("required")),
                                message=f"{'ok' if c.get('passed') else 'FAILED'} {c.get('name')}: {c.get('detail')}")
                    for c in manifest.verify]
    state.export_path = str(manifest_path.parent / manifest.file)
    state.export_bytes = manifest.bytes
    state.export_quant = manifest.quant
    state.manifest_path = str(manifest_path)
    state.samples = dict(manifest.samples)


def _load_evaluation(state: RunState, evaluation: dict[str, Any]) -> None:
    rows = evaluation.get("goals")
    state.goals = [GoalRow.from_dict(r) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    skipped = evaluation.get("skipped")
    verdict = evaluation.get("verdict") or (f"evaluation skipped: {skipped}" if skipped else None)
    state.verdict = str(verdict) if verdict else None

