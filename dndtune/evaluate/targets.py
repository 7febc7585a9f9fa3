"""What ``dndtune eval`` / ``play`` / ``deploy`` point at: a run folder, a GGUF file or an HF folder.

A run folder is ``<output>/runs/<name>/`` as the pipeline writes it: ``run.json``, ``dataset/``
(with the held-out ``eval.jsonl``), ``merged/`` and, once exported, ``export/<file>.gguf`` with
``export/model.json``. A bare name is looked up under ``training-output/runs/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError

DEFAULT_OUTPUT = Path("training-output")
EXPORT_DIR = "export"
MANIFEST = "model.json"
EVAL_SPLIT = Path("dataset") / "eval.jsonl"
F16_GGUF = Path("export-work") / "model-f16.gguf"


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when it is missing or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def run_json(self) -> dict[str, Any]:
        return read_json(self.root / "run.json")

    @property
    def manifest_path(self) -> Path:
        return self.root / EXPORT_DIR / MANIFEST

    @property
    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path)

    @property
    def gguf(self) -> Path | None:
        """The exported GGUF the manifest names (else the only GGUF in ``export/``)."""
        named = self.manifest.get("file")
        if isinstance(named, str) and (self.root / EXPORT_DIR / named).is_file():
            return self.root / EXPORT_DIR / named
        found = sorted((self.root / EXPORT_DIR).glob("*.gguf")) if (self.root / EXPORT_DIR).is_dir() else []
        return found[0] if len(found) == 1 else None

    @property
    def f16_gguf(self) -> Path | None:
        path = self.root / F16_GGUF
        return path if path.is_file() else None

    @property
    def merged(self) -> Path | None:
        path = self.root / "merged"
        return path if (path / "config.json").is_file() else None

    @property
    def adapter(self) -> Path | None:
        path = self.root / "adapter"
        return path if (path / "adapter_config.json").is_file() else None

    @property
    def base_model(self) -> Path | None:
        """The base model folder the run trained from, when it is on this machine."""
        model = self.run_json.get("model")
        raw = model.get("path") if isinstance(model, dict) else None
        path = Path(raw) if isinstance(raw, str) else None
        return path if path is not None and (path / "config.json").is_file() else None

    @property
    def eval_split(self) -> Path | None:
        path = self.root / EVAL_SPLIT
        return path if path.is_file() else None

    @property
    def eval_json(self) -> Path:
        return self.root / "eval.json"

    @property
    def ratings(self) -> Path:
        return self.root / "ratings.jsonl"


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / p).exists() for p in ("run.json", EXPORT_DIR, "merged"))


def find_run(value: str | Path, output_dir: Path = DEFAULT_OUTPUT) -> RunFolder:
    """A run folder given as a path or as a name under ``<output_dir>/runs``."""
    given = Path(value).expanduser()
    if is_run_folder(given):
        return RunFolder(given)
    named = output_dir / "runs" / str(value)
    if is_run_folder(named):
        return RunFolder(named)
    raise DndtuneError("no such run", path=str(value),
                       fix=f"give a run folder or the name of one under {output_dir / 'runs'}")


@dataclass(frozen=True)
class Target:
    """A model to run, and the run it belongs to (None for a loose file)."""

    model: Path
    run: RunFolder | None
    label: str


def resolve_target(value: str | Path, output_dir: Path = DEFAULT_OUTPUT, *, prefer: str = "gguf") -> Target:
    """``RUN_OR_GGUF`` of the CLI: a GGUF file, an HF model folder, a run folder or a run name.

    For a run, the exported GGUF is used (``prefer="gguf"``), else its merged HF model.
    """
    given = Path(value).expanduser()
    if given.is_file():
        if given.suffix.lower() != ".gguf":
            raise DndtuneError("not a GGUF file", path=str(given), fix="pass a .gguf file, a model folder or a run")
        parent = given.parent.parent if given.parent.name == EXPORT_DIR else given.parent
        run = RunFolder(parent) if is_run_folder(parent) and (parent / "run.json").exists() else None
        return Target(model=given, run=run, label=given.stem)
    if given.is_dir() and (given / "config.json").is_file():
        return Target(model=given, run=None, label=given.name)
    run = find_run(value, output_dir)
    gguf = run.gguf
    if prefer == "gguf" and gguf is not None:
        return Target(model=gguf, run=run, label=gguf.stem)
    if run.merged is not None:
        return Target(model=run.merged, run=run, label=f"{run.name}-merged")
    if gguf is not None:
        return Target(model=gguf, run=run, label=gguf.stem)
    raise DndtuneError("the run has neither an exported GGUF nor a merged model", path=str(run.root),
                       fix="train and export it first: `dndtune --recipe RECIPE` then `dndtune export RUN`")
