"""Open the runner a model path needs: llama.cpp for a ``.gguf`` file, transformers for an HF folder."""

from __future__ import annotations

from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.evaluate.hf_runner import HFRunner
from dndtune.evaluate.llama_runner import LlamaCppRunner
from dndtune.evaluate.runner import ModelRunner


def open_runner(path: Path, *, label: str | None = None, n_ctx: int | None = None) -> ModelRunner:
    """A runner for a ``.gguf`` file or a Hugging Face model folder."""
    if path.is_file() and path.suffix.lower() == ".gguf":
        return LlamaCppRunner(path, label=label, n_ctx=n_ctx)
    if path.is_dir() and (path / "config.json").is_file():
        return HFRunner(path, label=label)
    raise DndtuneError("not a model", path=str(path),
                       fix="pass a .gguf file, a Hugging Face model folder or a run folder")
