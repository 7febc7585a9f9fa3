"""The model versions under the app's output folder, as ``dndtune models list`` reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dndtune.registry import ModelVersion, Registry, RegistryState, list_versions


@dataclass(frozen=True)
class Versions:
    root: Path
    """The runs' output folder (``training-output``)."""
    versions: list[ModelVersion]
    state: RegistryState
    warning: str | None = None
    """Set when the registry file was damaged and its backup was read instead."""

    def find(self, name: str | None) -> ModelVersion | None:
        return next((v for v in self.versions if v.name == name), None)

    @property
    def promoted(self) -> ModelVersion | None:
        return self.find(self.state.promoted)

    def latest(self, *, with_gguf: bool = False) -> ModelVersion | None:
        """The newest run folder (what ``models check`` takes by default), optionally one with an exported GGUF."""
        pool = [v for v in self.versions if v.gguf is not None] if with_gguf else self.versions
        return max(pool, key=_mtime, default=None)


def _mtime(version: ModelVersion) -> float:
    try:
        return version.run.root.stat().st_mtime
    except OSError:
        return 0.0


def read_versions(root: Path) -> Versions:
    """Every version and the registry state; a damaged registry is read from its backup, with a warning."""
    state, warning = Registry(root).read_or_backup()
    return Versions(root=root, versions=list_versions(root, state), state=state, warning=warning)
