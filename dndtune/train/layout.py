"""Where a run keeps its files: ``<output.dir>/runs/<output.run_name>/``.

The folder is named after the run, not after a timestamp, so rerunning the same recipe finds its
own checkpoints (automatic resume) and its finished outputs (nothing to redo).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @classmethod
    def under(cls, output_dir: Path, run_name: str) -> RunLayout:
        return cls(output_dir / "runs" / run_name)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        """The trained LoRA adapter (PEFT format) with the tokenizer and its chat template."""
        return self.root / "adapter"

    @property
    def merged(self) -> Path:
        """Base weights with the adapter merged in: what the export stage converts to GGUF."""
        return self.root / "merged"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def metrics(self) -> Path:
        """One JSON object per logged step or evaluation."""
        return self.root / "metrics.jsonl"

    @property
    def loss_plot(self) -> Path:
        return self.root / "loss.png"
