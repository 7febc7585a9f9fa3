"""The run folder: the only module that knows the paths inside ``<output.dir>/runs/<run_name>/``.

A run folder is named after the run, not after a timestamp, so rerunning the same recipe finds its
own checkpoints (automatic resume) and its finished outputs (nothing to redo). A completed run is
a frozen *version*: a rerun whose inputs changed writes the next version beside it
(``<run_name>``, ``<run_name>-v2``, ``<run_name>-v3``, ...), see :class:`RunFamily`::

    <run>/
      run.json            the record: status, every stage's result (rewritten after each stage)
      recipe.yaml         the resolved recipe the run used
      dataset/            train.jsonl, eval.jsonl (the held-out split)
      checkpoints/        trainer checkpoints (resume)
      metrics.jsonl       one JSON object per logged step or evaluation
      loss.png            the loss curve
      adapter/            the trained LoRA adapter (PEFT format) with the tokenizer
      merged/             base weights with the adapter merged in (what export converts)
      export-work/        the f16 GGUF and quantized tries (the chosen file is moved out)
      export/             the chosen GGUF and model.json (its manifest)
      eval.json, eval.png the evaluation reports and chart
      eval-work/          GGUFs made for ``dndtune eval --ladder``
      ratings.jsonl       play-testers' ratings
      run.log             the console's lines with timestamps
      tensorboard/        trainer metrics (``train.report_to: tensorboard``)
      .completed/         while a rerun works: the last completed run's run.json, recipe.yaml and
                          dataset/, put back if the rerun fails or stops

:class:`RunLayout` names those paths; :class:`RunFolder` is the read side (what exists, what
``run.json`` and the manifest say) used by eval, play, deploy and the registry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError

DEFAULT_OUTPUT = Path("training-output")
RUNS_DIR = "runs"
RUN_RECORD = "run.json"
MANIFEST_NAME = "model.json"
F16_NAME = "model-f16.gguf"
EVAL_FILE = "eval.json"
CHART_FILE = "eval.png"


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class RunLayout:
    """Where a run keeps each of its files (paths only; nothing here touches the disk)."""

    root: Path

    @classmethod
    def under(cls, output_dir: Path, run_name: str) -> RunLayout:
        return cls(runs_dir(output_dir) / run_name)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def run_json(self) -> Path:
        return self.root / RUN_RECORD

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def eval_split(self) -> Path:
        """The held-out conversations the dataset stage wrote."""
        return self.dataset / "eval.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def run_log(self) -> Path:
        """Every line the console showed, timestamped (:class:`dndtune.events.RunLogSink` writes it)."""
        return self.root / "run.log"

    @property
    def tensorboard(self) -> Path:
        """TensorBoard event files when ``train.report_to: tensorboard`` (``tensorboard --logdir <output>/runs``)."""
        return self.root / "tensorboard"

    @property
    def loss_plot(self) -> Path:
        return self.root / "loss.png"

    @property
    def adapter(self) -> Path:
        """The trained LoRA adapter (PEFT format) with the tokenizer and its chat template."""
        return self.root / "adapter"

    @property
    def merged(self) -> Path:
        """Base weights with the adapter merged in: what the export stage converts to GGUF."""
        return self.root / "merged"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def manifest(self) -> Path:
        return self.export / MANIFEST_NAME

    @property
    def export_work(self) -> Path:
        return self.root / "export-work"

    @property
    def f16_gguf(self) -> Path:
        return self.export_work / F16_NAME

    @property
    def eval_json(self) -> Path:
        return self.root / EVAL_FILE

    @property
    def eval_chart(self) -> Path:
        return self.root / CHART_FILE

    @property
    def eval_work(self) -> Path:
        return self.root / "eval-work"

    @property
    def ratings(self) -> Path:
        return self.root / "ratings.jsonl"

    @property
    def completed_copy(self) -> Path:
        return self.root / ".completed"

    def read_record(self) -> dict[str, Any]:
        """``run.json`` as a dict (``{}`` before the first run or when it is unreadable)."""
        return read_json(self.run_json)


def runs_dir(output_dir: Path) -> Path:
    return output_dir / RUNS_DIR


_VERSION_SUFFIX = re.compile(r"^(?P<family>.+)-v(?P<n>[0-9]+)$")


@dataclass(frozen=True)
class RunFamily:
    """The versions of one recipe's run: ``runs/<name>`` is version 1, ``runs/<name>-v<N>`` version N.

    ``run.json`` says which family and version a folder is (``family``, ``version``), so a recipe
    whose own run name happens to end in ``-v2`` is never taken for a version of another one; a
    folder from before versions existed (no ``family`` field) is version 1 of its own name.
    """

    runs: Path
    name: str

    @classmethod
    def under(cls, output_dir: Path, run_name: str) -> RunFamily:
        return cls(runs_dir(output_dir), run_name)

    @property
    def lock(self) -> Path:
        """Held for a whole run of this family: the version is chosen and written under it."""
        return self.runs / f".{self.name}.lock"

    @property
    def lock_owner(self) -> Path:
        """Who holds :attr:`lock`: pid, host and start time, for the message a second run gets."""
        return self.runs / f".{self.name}.owner.json"

    def folder_name(self, version: int) -> str:
        return self.name if version == 1 else f"{self.name}-v{version}"

    def layout(self, version: int) -> RunLayout:
        return RunLayout(self.runs / self.folder_name(version))

    def version_of(self, layout: RunLayout) -> int | None:
        """Which version of this family ``layout`` holds (``None``: another family's folder, or none)."""
        record = layout.read_record()
        if not record and not is_run_folder(layout.root):
            return None
        family, version = record.get("family"), record.get("version")
        if isinstance(family, str) and isinstance(version, int):
            return version if family == self.name and layout.root.name == self.folder_name(version) else None
        return 1 if layout.root.name == self.name else None

    def versions(self) -> list[tuple[int, RunLayout]]:
        """Every version on disk, oldest first."""
        if not self.runs.is_dir():
            return []
        found: list[tuple[int, RunLayout]] = []
        for child in self.runs.iterdir():
            match = _VERSION_SUFFIX.match(child.name)
            if child.name != self.name and not (match and match.group("family") == self.name):
                continue
            version = self.version_of(RunLayout(child))
            if version is not None:
                found.append((version, RunLayout(child)))
        return sorted(found, key=lambda item: item[0])

    def latest(self) -> tuple[int, RunLayout] | None:
        found = self.versions()
        return found[-1] if found else None

    def latest_layout(self) -> RunLayout:
        """The newest version's folder, else where version 1 will be written."""
        latest = self.latest()
        return latest[1] if latest is not None else self.layout(1)

    def next_version(self) -> int:
        """One past the highest version, also past any folder in the way (a deleted run's leftovers)."""
        version = (self.latest() or (0, None))[0] + 1
        while self.layout(version).root.exists():
            version += 1
        return version


@dataclass(frozen=True)
class RunFolder:
    """A run folder as found on disk: each output is ``None`` until a stage has written it."""

    root: Path

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.root)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def run_json(self) -> dict[str, Any]:
        return self.layout.read_record()

    @property
    def manifest_path(self) -> Path:
        return self.layout.manifest

    @property
    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path)

    @property
    def gguf(self) -> Path | None:
        """The exported GGUF the manifest names (else the only GGUF in ``export/``)."""
        export = self.layout.export
        named = self.manifest.get("file")
        if isinstance(named, str) and (export / named).is_file():
            return export / named
        found = sorted(export.glob("*.gguf")) if export.is_dir() else []
        return found[0] if len(found) == 1 else None

    @property
    def f16_gguf(self) -> Path | None:
        return _existing(self.layout.f16_gguf)

    @property
    def merged(self) -> Path | None:
        path = self.layout.merged
        return path if (path / "config.json").is_file() else None

    @property
    def adapter(self) -> Path | None:
        path = self.layout.adapter
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
        return _existing(self.layout.eval_split)

    @property
    def eval_json(self) -> Path:
        return self.layout.eval_json

    @property
    def ratings(self) -> Path:
        return self.layout.ratings


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def is_run_folder(path: Path) -> bool:
    layout = RunLayout(path)
    return path.is_dir() and any(p.exists() for p in (layout.run_json, layout.export, layout.merged))


def find_run(value: str | Path, output_dir: Path = DEFAULT_OUTPUT) -> RunFolder:
    """A run folder given as a path or as a name under ``<output_dir>/runs``."""
    given = Path(value).expanduser()
    if is_run_folder(given):
        return RunFolder(given)
    named = runs_dir(output_dir) / str(value)
    if is_run_folder(named):
        return RunFolder(named)
    raise DndtuneError("no such run", path=str(value),
                       fix=f"give a run folder or the name of one under {runs_dir(output_dir)}")


def run_of_file(path: Path) -> RunFolder | None:
    """The run an exported file sits in (``<run>/export/x.gguf`` or ``<run>/x``), if any."""
    parent = path.parent.parent if path.parent.name == RunLayout(path.parent.parent).export.name else path.parent
    return RunFolder(parent) if is_run_folder(parent) and RunLayout(parent).run_json.exists() else None
