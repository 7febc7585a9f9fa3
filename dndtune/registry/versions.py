"""Model versions: every run folder under ``<output>/runs/``, described from the files it holds.

A version's facts come from the run itself: ``run.json`` (base model, dataset hash, status),
``export/model.json`` (quant, size, sha256, the export's perf profile), ``eval.json`` (scores)
and ``ratings.jsonl`` (play-testers' ratings), plus the perf records kept in the registry.
Nothing is copied into the registry, so a re-export or re-evaluation shows up at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError
from dndtune.evaluate.report import EvalFile, EvalReport, read_eval_file
from dndtune.play.ratings import RatingSummary, summarize_ratings
from dndtune.registry.store import DeployRecord, PerfRecord, Registry, RegistryState, VersionRecord
from dndtune.runs import RunFolder, is_run_folder


@dataclass(frozen=True)
class ModelVersion:
    name: str
    run: RunFolder
    status: str | None
    base_model: str | None
    data_hash: str | None
    quant: str | None
    size_bytes: int | None
    sha256: str | None
    gguf: Path | None
    evaluation: EvalFile | None
    ratings: RatingSummary
    perf: PerfRecord | None
    """The newest measurement of the exported file (registry record, else the export's profile)."""
    promoted: bool = False
    scores: dict[str, float | None] = field(default_factory=dict)
    changes: str | None = None
    """What changed since the version before it (``run.json`` ``changes``), in one line."""

    @property
    def report(self) -> EvalReport | None:
        return self.evaluation.primary_report() if self.evaluation is not None else None


def _perf_from_manifest(manifest: dict[str, Any]) -> PerfRecord | None:
    perf = manifest.get("perf")
    if not isinstance(perf, dict) or "gen_tps" not in perf:
        return None
    return PerfRecord(sha256=manifest.get("sha256"), tokens_per_second=float(perf["gen_tps"]),
                      prompt_tokens_per_second=perf.get("prompt_tps"), peak_rss_bytes=perf.get("peak_rss_bytes"),
                      size_bytes=manifest.get("bytes"), machine=str(perf.get("machine", "")),
                      measured_at=str(manifest.get("created_at", "")), source="export")


def latest_perf(name: str, sha256: str | None, manifest: dict[str, Any], state: RegistryState) -> PerfRecord | None:
    """The newest measurement of this exact file (a record for another sha256 is stale)."""
    records = [r for r in state.perf.get(name, []) if sha256 is None or r.sha256 in (None, sha256)]
    if records:
        return records[-1]
    return _perf_from_manifest(manifest)


def _section(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def load_version(run: RunFolder, state: RegistryState) -> ModelVersion:
    record = run.run_json
    manifest = run.manifest
    model = _section(record, "model")
    dataset = _section(record, "dataset")
    gguf = run.gguf
    recorded = state.versions.get(run.name)
    sha = manifest.get("sha256") if isinstance(manifest.get("sha256"), str) else None
    evaluation = read_eval_file(run.eval_json)
    scores = evaluation.primary_report().headline() if evaluation is not None else {}
    return ModelVersion(
        name=run.name, run=run, status=record.get("status"),
        base_model=manifest.get("base_model") or model.get("path") or model.get("profile"),
        data_hash=dataset.get("hash"), quant=manifest.get("quant"),
        size_bytes=manifest.get("bytes") or (gguf.stat().st_size if gguf is not None else None),
        sha256=sha, gguf=gguf, evaluation=evaluation,
        ratings=summarize_ratings(run.ratings, sha),
        perf=latest_perf(run.name, sha, manifest, state),
        promoted=state.promoted == run.name, scores=scores or dict(recorded.scores if recorded else {}),
        changes=_changes(record),
    )


def _changes(record: dict[str, Any]) -> str | None:
    changes = _section(record, "changes")
    summary, since = changes.get("summary"), changes.get("since")
    if not isinstance(summary, str):
        return None
    return f"since {since}: {summary}" if isinstance(since, str) else summary


def list_versions(root: Path, state: RegistryState) -> list[ModelVersion]:
    runs_dir = root / "runs"
    if not runs_dir.is_dir():
        return []
    return [load_version(RunFolder(p), state) for p in sorted(runs_dir.iterdir()) if is_run_folder(p)]


def record_completed(root: Path, name: str, record: VersionRecord) -> None:
    """Note what a completed version shipped; its files are frozen from now on."""
    with Registry(root).change() as state:
        state.versions[name] = record


def record_deploy(root: Path, record: DeployRecord) -> None:
    """Remember where a version was installed, so a rollback can install the one it brings back there."""
    with Registry(root).change() as state:
        state.last_deploy = record


def check_reexport(root: Path, name: str) -> None:
    """A promoted version's file never changes: ``dndtune export`` of it is refused before any work."""
    state = Registry(root).read()
    if any(entry.version == name for entry in state.history):
        raise DndtuneError(f"{name} has been promoted, so its GGUF never changes", path=str(root / "runs" / name),
                           fix="rerun its recipe with the new target (e.g. --set target.quant_ladder=[Q4_K_M]): "
                               "that writes a new version beside it")


def record_reexport(root: Path, name: str, gguf: Path, sha256: str, size: int) -> None:
    """A completed version exported again by hand ships the new file: the registry's record follows it."""
    registry = Registry(root)
    if name not in registry.read().versions:
        return  # not a version the registry knows (a run folder copied elsewhere): nothing to follow
    with registry.change() as state:
        record = state.versions.get(name)
        if record is not None:
            state.versions[name] = record.model_copy(update={"gguf": str(gguf), "sha256": sha256, "bytes": size})
