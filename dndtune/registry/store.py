"""``registry.json``: which version is promoted (deployed), the promotion history, perf records.

The file lives in the output folder (``training-output/registry.json``) beside ``runs/``. Every
change is a read-modify-write under an exclusive lock, published by one atomic rename, so a
crash or a second ``dndtune models promote`` at the same moment never leaves it half-written or
loses an entry. Rollback is the same single rename: the previous promoted version comes back
whole or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from filelock import FileLock
from pydantic import BaseModel, Field, ValidationError

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError

REGISTRY_FILE = "registry.json"
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


class RegistryState(BaseModel):
    schema_version: int = SCHEMA_VERSION
    promoted: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    perf: dict[str, list[PerfRecord]] = Field(default_factory=dict)
    """Version name -> measurements, oldest first."""

    def promotions(self) -> list[str]:
        """Promoted versions in order, with rolled-back ones removed (the stack rollback pops)."""
        stack: list[str] = []
        for entry in self.history:
            if entry.action == "promote":
                stack.append(entry.version)
            elif stack:
                stack.pop()
        return stack


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def path(self) -> Path:
        return self.root / REGISTRY_FILE

    def read(self) -> RegistryState:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return RegistryState()
        try:
            return RegistryState.model_validate_json(raw)
        except ValidationError as exc:
            raise DndtuneError(f"registry.json is damaged ({exc.error_count()} problem(s))", path=str(self.path),
                               fix="restore it from version control or delete it to start a new history") from None

    @contextlib.contextmanager
    def change(self) -> Iterator[RegistryState]:
        """Yield the current state for editing; it is written back atomically on success."""
        self.root.mkdir(parents=True, exist_ok=True)
        # Waits as long as another writer holds it: a promote queues behind the other, never fails.
        with FileLock(self.root / LOCK_FILE):
            state = self.read()
            yield state
            write_text_atomic(self.path, state.model_dump_json(indent=2) + "\n")

