"""Resuming: find the last complete checkpoint and decide whether this run may continue from it.

A checkpoint is complete once ``trainer_state.json`` exists: transformers writes it last, after
the weights, optimizer, scheduler and RNG states, so a run killed mid-save leaves a folder
without it, and that folder is skipped.

Checkpoints carry a *resume key*: a hash of everything that makes optimizer state meaningful
(base model, tokenized data, LoRA shape, optimizer settings). The number of steps or epochs is
left out on purpose, so raising ``train.max_steps`` continues a finished run instead of
restarting it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from dndtune.atomic import link_tree
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, TrainFresh, TrainResumed

STATE_FILE = "trainer_state.json"
KEY_FILE = "dndtune-resume.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(folder: Path) -> list[Path]:
    """Complete ``checkpoint-N`` folders, oldest step first."""
    if not folder.is_dir():
        return []
    found: list[tuple[int, Path]] = []
    for child in folder.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and child.is_dir() and (child / STATE_FILE).is_file():
            found.append((int(match.group(1)), child))
    return [path for _, path in sorted(found)]


def latest_checkpoint(folder: Path) -> Path | None:
    found = complete_checkpoints(folder)
    return found[-1] if found else None


def checkpoint_step(path: Path) -> int:
    match = _CHECKPOINT_RE.match(path.name)
    if match is None:
        raise ValueError(f"not a checkpoint folder: {path}")
    return int(match.group(1))


def read_key(folder: Path) -> str | None:
    try:
        data = json.loads((folder / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("resume_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def write_key(folder: Path, key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / KEY_FILE).write_text(json.dumps({"resume_key": key}) + "\n", encoding="utf-8")


def decide_resume(folder: Path, key: str, policy: bool | None, events: EventSink) -> Path | None:
    """The checkpoint to resume from, or ``None`` to start fresh.

    ``policy``: ``None`` resumes when a matching checkpoint exists (the rerun-after-interruption
    case) and refuses checkpoints from a different setup; ``True`` insists on resuming;
    ``False`` deletes earlier checkpoints of this run and starts over.
    """
    latest = latest_checkpoint(folder)
    if policy is False:
        if folder.exists():
            shutil.rmtree(folder)
            events.emit(TrainFresh(message=f"starting over: removed earlier checkpoints in {folder}"))
        return None
    if latest is None:
        if policy is True:
            raise DndtuneError(f"nothing to resume: no complete checkpoint in {folder}",
                               fix="run without requiring a resume to start training")
        return None
    stored = read_key(folder)
    if stored != key:
        if policy is True:
            events.emit(TrainResumed(
                message=f"resuming {latest.name} although the recipe or data changed since it was saved",
                level="warning", step=checkpoint_step(latest), path=str(latest)))
            return latest
        raise DndtuneError(
            f"{folder} holds checkpoints from a different model, dataset or training setup",
            fix="rerun with --no-resume to start this run over, or --resume to continue anyway",
        )
    events.emit(TrainResumed(message=f"resuming from {latest.name}", step=checkpoint_step(latest), path=str(latest)))
    return latest


def adopt_checkpoint(source: Path, folder: Path, key: str, max_steps: int | None,
                     events: EventSink) -> Path | None:
    """Continue an earlier version's last checkpoint in a new version, when it was made from the same setup.

    The resume key leaves out the step count, so a new version that only raises ``train.max_steps``
    (or changes nothing training depends on) carries on from where the last one stopped instead of
    starting over. The checkpoint is hard-linked (:func:`dndtune.atomic.link_tree`): the earlier
    version's files stay as they were. ``None`` when there is nothing that fits, or when the checkpoint
    is already at ``max_steps`` or past it.
    """
    latest = latest_checkpoint(source)
    if latest is None or read_key(source) != key or latest_checkpoint(folder) is not None:
        return None
    if max_steps is not None and checkpoint_step(latest) >= max_steps:
        return None  # it got as far already (or further): nothing to continue, this version trains its own
    target = folder / latest.name
    link_tree(latest, target)
    write_key(folder, key)
    events.emit(TrainResumed(message=f"continuing from {source.parent.name}'s {latest.name}: same data and setup",
                             step=checkpoint_step(target), path=str(target)))
    return target
