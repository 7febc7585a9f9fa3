"""Which version of a run this run writes: reuse, resume, complete, or a new one beside the last.

A completed version is frozen: nothing the pipeline does later rewrites its files. So a rerun
whose inputs (:mod:`dndtune.pipeline.inputs`) match the latest completed version and finds every
requested stage done does nothing at all; a rerun with other inputs writes the next version
(``<run>-v2``), reusing what it can of the last one (its adapter, when only export or evaluation
settings changed); an unfinished version (stopped, failed, killed) is picked up where it is, which
is what makes resume-after-interrupt work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from dndtune.pipeline.inputs import InputChanges, RunInputs, changes_between
from dndtune.runs import RunFamily, RunFolder, RunLayout
from dndtune.train.resume import complete_checkpoints

Reason = Literal["first", "resume", "new", "fresh", "complete", "unchanged"]


@dataclass(frozen=True)
class VersionChoice:
    version: int
    layout: RunLayout
    reason: Reason
    previous: RunLayout | None = None
    """The completed version this one follows: its adapter and merged model may be reused."""
    changes: InputChanges | None = None

    def describe(self, family: RunFamily) -> str:
        name = self.layout.name
        previous = self.previous.name if self.previous is not None else None
        match self.reason:
            case "first":
                return f"run {name}: the first version of {family.name}"
            case "resume":
                return f"run {name}: continuing this unfinished version"
            case "complete":
                return f"run {name}: nothing changed; running the stages it has not run yet"
            case "fresh":
                return f"run {name}: a new version trained from scratch (--no-resume); {previous} stays as it is"
            case "unchanged":
                return f"nothing changed since run {name}"
            case _:
                what = self.changes.summary() if self.changes is not None else "the inputs changed"
                return f"run {name}: a new version ({what}); {previous} stays as it is"


def choose_version(family: RunFamily, inputs: RunInputs, *, resume: bool | None, stages: Sequence[str],
                   frozen: Callable[[str], bool]) -> VersionChoice:
    """The version to write; ``frozen(name)``: the registry holds that version, so it is never re-entered."""
    latest = family.latest()
    if latest is None:
        return VersionChoice(1, family.layout(1), "first")
    number, layout = latest
    record = layout.read_record()
    stored = RunInputs.from_record(record.get("inputs"))
    same = stored is not None and stored.digest == inputs.digest
    if record.get("status") != "completed":
        # An unfinished version is not frozen. With the same inputs (or a record from before inputs were
        # kept) it resumes; with other inputs its checkpoints would not fit, so they are left where they
        # are and the next version starts, unless there is nothing in it worth keeping.
        if same or stored is None or resume is True or not complete_checkpoints(layout.checkpoints):
            return VersionChoice(number, layout, "resume", previous=_last_completed(family),
                                 changes=None if same or stored is None else changes_between(stored, inputs))
        previous = _last_completed(family)
        return _next(family, "new", previous, changes_between(stored, inputs))
    if resume is False:
        return _next(family, "fresh", layout, changes_between(stored, inputs))
    if not same:
        return _next(family, "new", layout, changes_between(stored, inputs))
    if _done(layout, record, stages):
        return VersionChoice(number, layout, "unchanged", previous=layout)
    if frozen(layout.name):
        return _next(family, "complete", layout, InputChanges())
    return VersionChoice(number, layout, "complete", previous=layout)


def _next(family: RunFamily, reason: Reason, previous: RunLayout | None, changes: InputChanges) -> VersionChoice:
    version = family.next_version()
    return VersionChoice(version, family.layout(version), reason, previous=previous, changes=changes)


def _last_completed(family: RunFamily) -> RunLayout | None:
    for _, layout in reversed(family.versions()):
        if layout.read_record().get("status") == "completed":
            return layout
    return None


def _done(layout: RunLayout, record: dict[str, object], stages: Sequence[str]) -> bool:
    """Every stage asked for finished in this version, and what it made is still on disk."""
    report = record.get("stages")
    if not isinstance(report, dict):
        return False
    folder = RunFolder(layout.root)
    outputs = {"dataset": lambda: folder.eval_split is not None or layout.dataset.is_dir(),
               "train": lambda: folder.adapter is not None,
               "merge": lambda: folder.merged is not None,
               "export": lambda: folder.gguf is not None,
               "evaluate": lambda: _evaluated(record, layout)}
    for stage in stages:
        entry = report.get(stage)
        if not isinstance(entry, dict) or entry.get("status") != "done":
            return False
        present = outputs.get(stage)
        if present is not None and not present():
            return False
    return True


def _evaluated(record: dict[str, object], layout: RunLayout) -> bool:
    section = record.get("evaluate")
    return isinstance(section, dict) and ("skipped" in section or layout.eval_json.is_file())
