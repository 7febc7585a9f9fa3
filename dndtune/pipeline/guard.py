"""What protects a run while it works: one run of a recipe at a time, and a completed run's record.

:func:`run_lock` holds ``runs/.<run_name>.lock`` (``filelock``) for the whole run, so two runs of one
recipe never pick the same new version, train into the same checkpoints or interleave ``run.json``
writes; the second one is told who holds it.

:class:`CompletedRun` keeps what a completed run wrote about itself (``run.json``, ``recipe.yaml``,
``dataset/``) aside while a rerun finishes stages it had not run (``--until`` earlier, or outputs
deleted since), and puts it back when that rerun fails or stops. A rerun with other inputs never
needs it: it writes a new version (:mod:`dndtune.pipeline.versions`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.pipeline.record import now
from dndtune.runs import RunFamily, RunLayout, read_json


@contextmanager
def run_lock(family: RunFamily) -> Iterator[None]:
    """Hold the recipe's runs for this process; runs another process holds are one clear error."""
    try:
        family.runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DndtuneError(f"could not create the runs folder: {exc.strerror or exc}", path=str(family.runs),
                           fix="check free disk space and that output.dir is writable") from None
    lock = FileLock(str(family.lock))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        owner = read_json(family.lock_owner)
        who = (f" (pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('started_at')})"
               if owner else "")
        raise DndtuneError(f"another dndtune run is working on run {family.name}{who}", path=str(family.runs),
                           fix="wait for it to finish, stop it, or give this run another output.run_name") from None
    try:
        write_text_atomic(family.lock_owner, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                         "started_at": now()}) + "\n")
        yield
    finally:
        family.lock_owner.unlink(missing_ok=True)
        lock.release()


class CompletedRun:
    """The last completed run's own record, set aside while a rerun works in its folder."""

    FILES = ("run_json", "recipe")

    def __init__(self, layout: RunLayout) -> None:
        self.layout = layout
        self.copy = layout.completed_copy

    def recover(self) -> None:
        """A rerun killed before it could put the record back left the copy: it is the truth."""
        if self.copy.is_dir():
            self.restore()

    def keep(self, previous: dict[str, object]) -> bool:
        """Copy the record aside when the folder holds a completed run; False when there is none."""
        if previous.get("status") != "completed":
            return False
        tmp = self.copy.with_name(self.copy.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name in self.FILES:
            source: Path = getattr(self.layout, name)
            if source.is_file():
                shutil.copy2(source, tmp / source.name)
        if self.layout.dataset.is_dir():
            shutil.copytree(self.layout.dataset, tmp / self.layout.dataset.name)
        os.replace(tmp, self.copy)
        return True

    def restore(self, attempt: dict[str, object] | None = None) -> None:
        """Put the completed run's record back over what the rerun wrote.

        ``attempt`` (status, error, time of the rerun that did not complete) is noted in the restored
        ``run.json`` as ``last_rerun``, so the record says why the folder still holds the older run.
        """
        for name in self.FILES:
            target: Path = getattr(self.layout, name)
            saved = self.copy / target.name
            if saved.is_file():
                os.replace(saved, target)
        if attempt is not None:
            record = read_json(self.layout.run_json)
            if record:
                record["last_rerun"] = attempt
                write_text_atomic(self.layout.run_json, json.dumps(record, indent=2, default=str) + "\n")
        saved_dataset = self.copy / self.layout.dataset.name
        if saved_dataset.is_dir():
            shutil.rmtree(self.layout.dataset, ignore_errors=True)
            os.replace(saved_dataset, self.layout.dataset)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.copy, ignore_errors=True)
