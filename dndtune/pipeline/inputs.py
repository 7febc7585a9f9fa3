"""What a run is made from, and what changed since the last version: scenarios, recipe, base model, code.

:func:`run_inputs` reads only what is cheap (file hashes, the recipe, the base model's
``config.json`` and weight-file sizes), so deciding "nothing changed" takes well under a second and
imports neither torch nor transformers. The digest is stored in ``run.json`` (``inputs``); the
next run compares its own with it and either reuses the version, or writes a new one and records
:class:`InputChanges` (``changes``) for ``dndtune models list`` and the TUI.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dndtune import __version__
from dndtune.errors import DndtuneError
from dndtune.models.resolve import locate_model
from dndtune.pipeline.fingerprints import NOT_MODEL_SETTINGS
from dndtune.recipe.schema import Recipe
from dndtune.scenario.loader import find_scenario_files

# Where the run is written and how it is watched are not what it is made from: a copied recipe
# with another output folder or metrics reporter still describes the same model.
_NOT_INPUTS: dict[str, Any] = {"output": True, **NOT_MODEL_SETTINGS}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")
_DEFAULT = object()
"""A recipe field left at its default (inputs keep only the fields a recipe sets)."""


@dataclass(frozen=True)
class RunInputs:
    scenarios: dict[str, str]
    """Scenario file (relative to ``data.scenarios_dir``) -> sha256 of its bytes."""
    recipe: dict[str, Any]
    """The recipe's settings that shape the model and differ from the defaults (nothing of ``output``)."""
    base_model: str
    """The base model's identity: where it resolves and a hash of its config and weight files' sizes."""
    dndtune: str = __version__

    @property
    def digest(self) -> str:
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {"scenarios": self.scenarios, "recipe": self.recipe, "base_model": self.base_model,
                "dndtune": self.dndtune}

    @classmethod
    def from_record(cls, data: object) -> RunInputs | None:
        """The inputs ``run.json`` stored (``None`` for a run from before they were recorded)."""
        if not isinstance(data, dict):
            return None
        scenarios, recipe = data.get("scenarios"), data.get("recipe")
        if not isinstance(scenarios, dict) or not isinstance(recipe, dict):
            return None
        return cls(scenarios={str(k): str(v) for k, v in scenarios.items()}, recipe=recipe,
                   base_model=str(data.get("base_model", "")), dndtune=str(data.get("dndtune", "")))

    def record(self) -> dict[str, Any]:
        """The ``inputs`` section of ``run.json``."""
        return {**self.as_dict(), "digest": self.digest}


@dataclass(frozen=True)
class InputChanges:
    """How one run's inputs differ from an earlier version's."""

    added: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    recipe: list[str] = field(default_factory=list)
    """``train.lr: 0.001 -> 0.002`` for each recipe field that differs."""
    base_model: bool = False
    dndtune: str | None = None
    """``0.1.0 -> 0.2.0`` when the code version changed."""
    unrecorded: bool = False
    """The earlier version was made before dndtune recorded run inputs: what changed is unknown."""

    @property
    def empty(self) -> bool:
        return not (self.added or self.edited or self.removed or self.recipe or self.base_model or self.dndtune
                    or self.unrecorded)

    def summary(self) -> str:
        """One line: ``1 scenario edited (combat/goblins.md); recipe: train.lr 0.001 -> 0.002``."""
        parts = []
        for verb, files in (("added", self.added), ("edited", self.edited), ("removed", self.removed)):
            if files:
                shown = ", ".join(files[:3]) + (f", +{len(files) - 3} more" if len(files) > 3 else "")
                parts.append(f"{len(files)} scenario{'s' if len(files) != 1 else ''} {verb} ({shown})")
        if self.recipe:
            shown = "; ".join(self.recipe[:3]) + (f"; +{len(self.recipe) - 3} more" if len(self.recipe) > 3 else "")
            parts.append(f"recipe: {shown}")
        if self.base_model:
            parts.append("base model changed")
        if self.dndtune:
            parts.append(f"dndtune {self.dndtune}")
        if self.unrecorded:
            parts.append("the earlier version was made before dndtune kept a record of its inputs")
        return "; ".join(parts) if parts else "nothing changed"

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "edited": self.edited, "removed": self.removed, "recipe": self.recipe,
                "base_model": self.base_model, "dndtune": self.dndtune, "unrecorded": self.unrecorded,
                "summary": self.summary()}


def run_inputs(recipe: Recipe) -> RunInputs:
    root = recipe.data.scenarios_dir
    scenarios: dict[str, str] = {}
    if root.is_dir():
        for path, _category in find_scenario_files([root]):
            try:
                scenarios[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                # An unreadable file is the dataset stage's to report, with its line; here it just differs.
                scenarios[path.relative_to(root).as_posix()] = "unreadable"
    # Only what differs from the defaults: a newer dndtune that adds a recipe field (at a default that
    # keeps today's behaviour) must not turn every completed run into "changed".
    sections = recipe.model_dump(mode="json", exclude=_NOT_INPUTS, exclude_defaults=True)
    return RunInputs(scenarios=dict(sorted(scenarios.items())), recipe=sections,
                     base_model=base_model_identity(recipe))


def base_model_identity(recipe: Recipe) -> str:
    """Where the base model resolves and what its files are, without loading or converting it."""
    try:
        location = locate_model(recipe.base_model)
    except DndtuneError as exc:
        return f"unavailable: {exc}"
    if location is None or location.path is None:
        return f"not on this machine: {recipe.base_model.model_dump(mode='json')}"
    folder = location.path
    digest = hashlib.sha256(str(folder.resolve()).encode())
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    # Sizes and times, not contents: hashing gigabytes of weights would take longer than the rerun.
    for weights in sorted(p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{location.source}:{digest.hexdigest()}"


def changes_between(old: RunInputs | None, new: RunInputs) -> InputChanges:
    if old is None:
        return InputChanges(unrecorded=True)
    added = sorted(set(new.scenarios) - set(old.scenarios))
    removed = sorted(set(old.scenarios) - set(new.scenarios))
    edited = sorted(k for k in set(old.scenarios) & set(new.scenarios) if old.scenarios[k] != new.scenarios[k])
    return InputChanges(added=added, edited=edited, removed=removed, recipe=recipe_diff(old.recipe, new.recipe),
                        base_model=old.base_model != new.base_model,
                        dndtune=f"{old.dndtune} -> {new.dndtune}" if old.dndtune != new.dndtune else None)


def recipe_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``section.field: old -> new`` for every leaf that differs, in the recipe's own order."""
    out: list[str] = []
    for key in [*new, *(k for k in old if k not in new)]:
        name = f"{prefix}{key}"
        a, b = old.get(key, _DEFAULT), new.get(key, _DEFAULT)
        # A section left wholly at its defaults is absent: compare it field by field as an empty one.
        if isinstance(a, dict) and b is _DEFAULT:
            b = {}
        elif isinstance(b, dict) and a is _DEFAULT:
            a = {}
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(recipe_diff(a, b, f"{name}."))
        elif a != b:
            out.append(f"{name}: {_short(a)} -> {_short(b)}")
    return out


def _short(value: object) -> str:
    if value is _DEFAULT:
        return "default"
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."
