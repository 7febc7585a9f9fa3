"""What a finished stage's output depends on: equal fingerprints mean redoing it would redo the same work."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dndtune import __version__
from dndtune.dataset.build import DatasetResult
from dndtune.recipe.schema import Recipe

TRAINING_SECTIONS = ("base_model", "data", "lora", "train")
"""The recipe sections a trained adapter depends on (the rest shape the export or the evaluation)."""
NOT_MODEL_SETTINGS: dict[str, Any] = {"train": {"report_to"}}
"""Recipe fields that change how a run is watched, never what it makes."""


def dataset_hash(result: DatasetResult) -> str:
    digest = hashlib.sha256()
    for name in sorted(result.jsonl_paths):
        digest.update(name.encode())
        digest.update(result.jsonl_paths[name].read_bytes())
    return digest.hexdigest()


def train_fingerprint(recipe: Recipe, dataset_digest: str | None, template: str, engine: list[Any],
                      base_model: Path) -> str:
    """Everything a finished adapter depends on: the training sections, data, template, engine, base config."""
    parts = {
        # What the recipe sets, not every field's default: a newer dndtune that adds a training field
        # (at a default that keeps the behaviour) must not make a finished adapter look out of date.
        "recipe": recipe.model_dump(mode="json", include=set(TRAINING_SECTIONS), exclude=NOT_MODEL_SETTINGS,
                                    exclude_defaults=True),
        "dataset": dataset_digest,
        "template": hashlib.sha256(template.encode()).hexdigest(),
        "engine": engine,
        "dndtune": __version__,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    config = base_model / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    return digest.hexdigest()


def merge_fingerprint(base: Path, adapter: Path, dtype: str, template: str) -> str:
    digest = hashlib.sha256(f"{dtype}|{__version__}|".encode())
    digest.update(template.encode())
    for path in (base / "config.json", *sorted(adapter.glob("adapter_*"))):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
