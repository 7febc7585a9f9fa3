"""Promote a version (mark it deployed), roll back to the previous one, record measurements.

The registry records the sha256 of the file each version shipped with. A version's file must not
change after that: a rerun that replaced it would make ``rollback`` bring back a file nobody
promoted. So promote, rollback and ``models check`` hash the GGUF on disk (never trusting the
export manifest's copy of the digest) and refuse when it differs from what the registry recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.gguf.file import read_gguf
from dndtune.hashing import sha256_file
from dndtune.registry.store import HistoryEntry, PerfRecord, Registry, RegistryState
from dndtune.runs import RunFolder, find_run, runs_dir


@dataclass(frozen=True)
class VerifiedExport:
    """A run's GGUF whose header loaded and whose bytes were hashed just now."""

    run: RunFolder
    gguf: Path
    sha256: str


def hash_gguf(run: RunFolder) -> VerifiedExport:
    """The run's GGUF after loading its header (a truncated or non-GGUF file raises) and hashing it."""
    gguf = run.gguf
    if gguf is None:
        raise DndtuneError("the run has no exported GGUF", path=str(run.root),
                           fix=f"export it first: `dndtune export {run.name}`")
    read_gguf(gguf)
    return VerifiedExport(run=run, gguf=gguf, sha256=sha256_file(gguf))


def verify_export(run: RunFolder) -> VerifiedExport:
    """What promote checks before it touches the registry: a finished run and a whole GGUF that is the exported one."""
    if run.run_json.get("status") == "failed":
        raise DndtuneError("the run failed (run.json status: failed); only a finished run can be promoted",
                           path=str(run.layout.run_json),
                           fix="fix what the run reported and run it again, or promote another run")
    verified = hash_gguf(run)
    expected = run.manifest.get("sha256")
    if isinstance(expected, str) and expected != verified.sha256:
        raise DndtuneError(f"the GGUF does not match its export manifest (sha256 {verified.sha256[:12]} != "
                           f"{expected[:12]}); it changed after the export", path=str(verified.gguf),
                           fix=f"export the run again: `dndtune export {run.name}`")
    return verified


def recorded_entry(state: RegistryState, version: str) -> HistoryEntry | None:
    """The newest history entry that recorded a digest for ``version``."""
    return next((e for e in reversed(state.history) if e.version == version and e.sha256), None)


def check_recorded(state: RegistryState, verified: VerifiedExport, *, fix: str) -> None:
    """Refuse when the file on disk is not the one the registry recorded for its version."""
    entry = recorded_entry(state, verified.run.name)
    completed = state.versions.get(verified.run.name)
    if entry is None and completed is not None and completed.sha256 and completed.sha256 != verified.sha256:
        raise DndtuneError(f"{verified.run.name}'s GGUF is not the file it completed with (sha256 "
                           f"{verified.sha256[:12]} != {completed.sha256[:12]}, completed {completed.completed_at})",
                           path=str(verified.gguf), fix=fix)
    if entry is not None and entry.sha256 != verified.sha256:
        recorded = entry.sha256 or ""
        when = "promoted" if entry.action == "promote" else "rolled back to"
        raise DndtuneError(f"{verified.run.name}'s GGUF is not the file the registry recorded for it (sha256 "
                           f"{verified.sha256[:12]} != {recorded[:12]}, {when} {entry.at})",
                           path=str(verified.gguf), fix=fix)


def promote(root: Path, run: str | Path, *, note: str = "", verified: VerifiedExport | None = None) -> HistoryEntry:
    """Mark ``run`` as the deployed version; the one it replaces stays in the history.

    ``verified`` (from :func:`verify_export` on the same run) saves hashing the file twice when the
    caller checked it already.
    """
    folder = find_run(run, root)
    if verified is None or verified.run.root != folder.root:
        verified = verify_export(folder)
    registry = Registry(root)
    with registry.change() as state:
        check_recorded(state, verified, fix="a promoted version's file never changes: export the new model under "
                                            "a new run name, or put the promoted file back")
        if state.promoted == folder.name:
            raise DndtuneError(f"{folder.name} is already the promoted version",
                               fix="promote another run, or `dndtune models rollback`")
        entry = HistoryEntry(action="promote", version=folder.name, previous=state.promoted,
                             sha256=verified.sha256, note=note)
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
        folder = RunFolder(runs_dir(root) / previous)
        if not folder.root.is_dir():
            raise DndtuneError(f"the previous version {previous} no longer exists", path=str(folder.root),
                               fix=f"restore the run folder, or promote another run instead of {current}")
        # Hashing under the lock keeps the check and the rewrite one step; it costs a second or two.
        verified = hash_gguf(folder)
        check_recorded(state, verified, fix="nothing was rolled back: put the promoted file back, or promote a "
                                            "version on purpose with `dndtune models promote RUN`")
        entry = HistoryEntry(action="rollback", version=previous, previous=current, sha256=verified.sha256,
                             note=note)
        state.history.append(entry)
        state.promoted = previous
    return entry


def verify_promoted(root: Path, state: RegistryState) -> VerifiedExport | None:
    """The promoted version's file, checked against the registry (None when nothing is promoted)."""
    if state.promoted is None:
        return None
    folder = RunFolder(runs_dir(root) / state.promoted)
    if not folder.root.is_dir():
        raise DndtuneError(f"the promoted version {state.promoted} no longer exists", path=str(folder.root),
                           fix="restore the run folder, or promote another run")
    verified = hash_gguf(folder)
    check_recorded(state, verified, fix="the app may ship a file that was never promoted: put the promoted file "
                                        "back, or promote a run on purpose with `dndtune models promote RUN`")
    return verified


def record_perf(root: Path, version: str, record: PerfRecord) -> None:
    with Registry(root).change() as state:
        state.perf.setdefault(version, []).append(record)
