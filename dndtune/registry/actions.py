"""Promote a version (mark it deployed), roll back to the previous one, record measurements."""

from __future__ import annotations

from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.registry.store import HistoryEntry, PerfRecord, Registry
from dndtune.runs import RunFolder, find_run


def promote(root: Path, run: str | Path, *, note: str = "") -> HistoryEntry:
    """Mark ``run`` as the deployed version; the one it replaces stays in the history."""
    folder = find_run(run, root)
    _check_promotable(folder)
    registry = Registry(root)
    with registry.change() as state:
        if state.promoted == folder.name:
            raise DndtuneError(f"{folder.name} is already the promoted version",
                               fix="promote another run, or `dndtune models rollback`")
        entry = HistoryEntry(action="promote", version=folder.name, previous=state.promoted,
                             sha256=folder.manifest.get("sha256"), note=note)
        state.history.append(entry)
        state.promoted = folder.name
    return entry


def rollback(root: Path, *, note: str = "") -> HistoryEntry:
    """Bring back the version promoted before the current one (one atomic rewrite of the registry)."""
    registry = Registry(root)
    with registry.change() as state:
        stack = state.promotions()
        if len(stack) < 2:
            raise DndtuneError("there is no earlier promoted version to roll back to", path=str(registry.path),
                               fix="promote a run first with `dndtune models promote RUN`")
        current, previous = stack[-1], stack[-2]
        if not (root / "runs" / previous).is_dir():
            raise DndtuneError(f"the previous version {previous} no longer exists", path=str(root / "runs" / previous),
                               fix=f"restore the run folder, or promote another run instead of {current}")
        entry = HistoryEntry(action="rollback", version=previous, previous=current,
                             sha256=RunFolder(root / "runs" / previous).manifest.get("sha256"), note=note)
        state.history.append(entry)
        state.promoted = previous
    return entry


def record_perf(root: Path, version: str, record: PerfRecord) -> None:
    with Registry(root).change() as state:
        state.perf.setdefault(version, []).append(record)


def _check_promotable(run: RunFolder) -> None:
    if run.gguf is None:
        raise DndtuneError("the run has no exported GGUF", path=str(run.root),
                           fix=f"export it first: `dndtune export {run.name}`")
