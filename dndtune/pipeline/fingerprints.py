"""What a finished stage's output depends on: equal fingerprints mean redoing it would redo the same work."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dndtune import __version__
from dndtune.dataset.build import DatasetResult
from dndtune.recipe.schema import Recipe


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
        "recipe": recipe.model_dump(mode="json", include={"base_model", "data", "lora", "train"}),
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
