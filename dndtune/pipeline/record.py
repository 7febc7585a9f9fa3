"""The parts of ``run.json`` that describe where a run happened: versions, git state, time."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dndtune import __version__
from dndtune.recipe.schema import Recipe
from dndtune.runs import RunLayout

PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "unsloth", "unsloth_zoo",
            "bitsandbytes", "tokenizers", "gguf")


def start_record(recipe: Recipe, layout: RunLayout) -> dict[str, Any]:
    """The fields ``run.json`` gets when a run starts."""
    return {
        "run_name": recipe.output.run_name,
        "run_dir": str(layout.root),
        "recipe_path": str(recipe.source_path) if recipe.source_path else None,
        "recipe": recipe.model_dump(mode="json"),
        "seed": recipe.train.seed,
        "started_at": now(),
        "dndtune": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "git": git_state(Path(__file__).resolve().parent.parent.parent),
    }


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any] | None:
    """Commit and dirtiness of the dndtune checkout (``None`` for an installed wheel)."""
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
