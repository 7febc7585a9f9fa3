"""``registry.json``: which version is promoted (deployed), the promotion history, perf records.

The file lives in the output folder (``training-output/registry.json``) beside ``runs/``. Every
change is a read-modify-write under an exclusive lock, published by one atomic rename, so a
crash or a second ``dndtune models promote`` at the same moment never leaves it half-written or
loses an entry. Rollback is the same single rename: the previous promoted version comes back
whole or not at all. Each write first keeps the text it replaces as ``registry.json.bak``:
``training-output/`` is git-ignored, so that copy is the only way back from a damaged registry.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from filelock import FileLock
from pydantic import BaseModel, Field, ValidationError

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError

REGISTRY_FILE = "registry.json"
BACKUP_FILE = "registry.json.bak"
LOCK_FILE = ".registry.lock"
SCHEMA_VERSION = 1

Action = Literal["promote", "rollback"]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class HistoryEntry(BaseModel):
    action: Action
    version: str
    previous: str | None
    at: str = Field(default_factory=now)
    sha256: str | None = None
    """The promoted GGUF's digest, so history says which exact file was live."""
    note: str = ""


class PerfRecord(BaseModel):
    """Inference speed and memory of one exported file, measured on one machine."""

    sha256: str | None
    tokens_per_second: float
    prompt_tokens_per_second: float | None = None
    peak_rss_bytes: int | None = None
    size_bytes: int | None = None
    machine: str
    measured_at: str = Field(default_factory=now)
    source: str = "dndtune"
    """``dndtune models bench`` / ``deploy`` (measured here) or ``export`` (the manifest's profile)."""


class VersionRecord(BaseModel):
    """What a completed run version shipped, written when it completed: the file's digest and its scores.

    ``models check`` and ``rollback`` compare the file on disk with this digest even for a
    version that was never promoted, and ``models list`` still shows the scores after
    ``eval.json`` was rewritten by a later ``dndtune eval``.
    """

    family: str
    version: int
    gguf: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    changes: str | None = None
    """What changed since the version before it, in one line."""
    completed_at: str = Field(default_factory=now)


class DeployRecord(BaseModel):
    """One ``dndtune deploy``: enough to repeat it for another version."""

    version: str
    to: str
    """The app's assets folder (``--to``)."""
    name: str
    """The bundle's folder name inside it (what ``--name`` resolved to)."""
    target: Literal["gguf", "cactus"] = "gguf"
    tested: bool = True
    """The integration suite ran (``--skip-tests`` not given)."""
    at: str = Field(default_factory=now)

    def command(self, version: str) -> str:
        """The command that installs ``version`` the same way."""
        return (f"dndtune deploy {shlex.quote(version)} --to {shlex.quote(self.to)} --name {shlex.quote(self.name)}"
                f" --target {self.target}" + ("" if self.tested else " --skip-tests"))


class RegistryState(BaseModel):
    schema_version: int = SCHEMA_VERSION
    promoted: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    perf: dict[str, list[PerfRecord]] = Field(default_factory=dict)
    """Version name -> measurements, oldest first."""
    versions: dict[str, VersionRecord] = Field(default_factory=dict)
    """Version (run folder) name -> what it shipped when it completed."""
    last_deploy: DeployRecord | None = None
    """Where ``dndtune deploy`` last installed a version: ``models rollback`` redeploys there."""

    def is_frozen(self, version: str) -> bool:
        """The pipeline never writes into a version the registry holds a record of."""
        return version in self.versions or any(e.version == version for e in self.history)

    def promotions(self) -> list[str]:
        """Promoted versions in order, with rolled-back ones removed (the stack rollback pops)."""
        stack: list[str] = []
        for entry in self.history:
            if entry.action == "promote":
                stack.append(entry.version)
            elif stack:
                stack.pop()
        return stack


class _Damaged(Exception):
    """registry.json (or its backup) exists but cannot be parsed; the text says why."""


def _load(path: Path) -> tuple[str, RegistryState] | None:
    """The file's text and state; None when it does not exist."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise _Damaged("not UTF-8 text") from None
    except OSError as exc:
        raise DndtuneError(f"cannot read the registry: {exc.strerror or exc}", path=str(path),
                           fix="check the file's permissions") from None
    try:
        return raw, RegistryState.model_validate_json(raw)
    except ValidationError as exc:
        raise _Damaged(f"{exc.error_count()} problem(s)") from None


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def path(self) -> Path:
        return self.root / REGISTRY_FILE

    @property
    def backup(self) -> Path:
        """The registry as it was before the last change (``training-output/`` is not under version control)."""
        return self.root / BACKUP_FILE

    def restore_command(self) -> str:
        return f"cp {shlex.quote(str(self.backup))} {shlex.quote(str(self.path))}"

    def _current(self) -> tuple[str, RegistryState] | None:
        try:
            return _load(self.path)
        except _Damaged as exc:
            raise self._damaged(str(exc)) from None

    def _usable_backup(self) -> RegistryState | None:
        try:
            loaded = _load(self.backup)
        except (_Damaged, DndtuneError):
            return None
        return loaded[1] if loaded is not None else None

    def _damaged(self, reason: str) -> DndtuneError:
        if self._usable_backup() is not None:
            return DndtuneError(f"registry.json is damaged ({reason}); {BACKUP_FILE} holds the registry as it was "
                                "before the last change", path=str(self.path),
                                fix=f"copy {BACKUP_FILE} over registry.json: {self.restore_command()}")
        return DndtuneError(f"registry.json is damaged ({reason}) and there is no usable {BACKUP_FILE}",
                            path=str(self.path),
                            fix="delete registry.json to start a new history; the run folders are not affected")

    def read(self) -> RegistryState:
        loaded = self._current()
        return loaded[1] if loaded is not None else RegistryState()

    def read_or_backup(self) -> tuple[RegistryState, str | None]:
        """The state for commands that only show it, and a warning when it came from the backup.

        Listing and comparing should keep working while the user decides what to do with a damaged
        file; a change (promote, rollback, bench) still refuses, since writing the backup's state
        back would silently drop the last change.
        """
        try:
            loaded = _load(self.path)
        except _Damaged as exc:
            state = self._usable_backup()
            if state is None:
                raise self._damaged(str(exc)) from None
            return state, (f"{self.path} is damaged ({exc}); showing {BACKUP_FILE}, the registry before the last "
                           f"change (to keep it: {self.restore_command()})")
        return (loaded[1] if loaded is not None else RegistryState()), None

    @contextlib.contextmanager
    def change(self) -> Iterator[RegistryState]:
        """Yield the current state for editing; it is written back atomically on success.

        The text it replaces is kept as ``registry.json.bak`` first, so a registry damaged later
        (a truncated copy, a bad hand edit) can be brought back with one ``cp``.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # Waits as long as another writer holds it: a promote queues behind the other, never fails.
            lock = FileLock(self.root / LOCK_FILE)
            lock.acquire()
        except OSError as exc:
            raise DndtuneError(f"cannot lock the registry: {exc.strerror or exc}", path=str(self.root),
                               fix="check the output folder's permissions and free space") from None
        try:
            loaded = self._current()
            state = loaded[1] if loaded is not None else RegistryState()
            yield state
            if loaded is not None:
                write_text_atomic(self.backup, loaded[0])
            write_text_atomic(self.path, state.model_dump_json(indent=2) + "\n")
        finally:
            lock.release()
