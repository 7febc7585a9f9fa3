"""What ``dndtune eval`` / ``play`` / ``deploy`` point at: a run folder, a GGUF file or an HF folder.

A run folder (see :mod:`dndtune.runs`) is given as a path or as a bare name looked up under
``training-output/runs/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.runs import DEFAULT_OUTPUT, RunFolder, find_run, run_of_file


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
        return Target(model=given, run=run_of_file(given), label=given.stem)
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
