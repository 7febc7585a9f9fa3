"""What one run carries from stage to stage: :class:`RunContext`, and the :class:`Stage` shape."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dndtune.dataset.build import DatasetResult
from dndtune.errors import DndtuneError
from dndtune.evaluate.stage import EvaluateResult
from dndtune.events import EventSink
from dndtune.export.run import ExportResult
from dndtune.models.compat import ChatTemplates
from dndtune.models.resolve import ResolvedModel
from dndtune.recipe.schema import Recipe
from dndtune.runs import RunLayout
from dndtune.train.engine import EngineChoice, EngineFacts
from dndtune.train.job import TrainResult

RunStatus = Literal["running", "completed", "stopped", "failed"]


@dataclass
class RunContext:
    """Shared state of one run: the inputs, and each stage's result for the stages after it."""

    recipe: Recipe
    layout: RunLayout
    events: EventSink
    stop_event: threading.Event
    resume: bool | None = None
    facts: EngineFacts | None = None
    engine: EngineChoice | None = None
    model: ResolvedModel | None = None
    templates: ChatTemplates | None = None
    tokenizer: Any = None
    """The base model's tokenizer (a transformers object) with the inference chat template."""
    dataset: DatasetResult | None = None
    train: TrainResult | None = None
    merged: Path | None = None
    export: ExportResult | None = None
    evaluation: EvaluateResult | None = None
    """Set when the evaluate stage scored the model (``None`` when it was skipped)."""
    record: dict[str, Any] = field(default_factory=dict)
    """What ``run.json`` holds; stages add their sections."""
    previous: dict[str, Any] = field(default_factory=dict)
    """``run.json`` of the version this one continues (its own, when resuming) or follows."""
    previous_layout: RunLayout | None = None
    """That version's folder: stages whose inputs did not change reuse what it holds."""

    def require(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise DndtuneError(f"the {name} stage has not run in this pipeline")
        return value


StageRun = Callable[[RunContext], Any]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageRun
    description: str
    needs: tuple[str, ...] = ()
    preview: Callable[[Recipe], str] | None = None
    """One line for ``--dry-run``: what this stage will do with the recipe (default: ``description``)."""

    def describe(self, recipe: Recipe) -> str:
        return self.preview(recipe) if self.preview is not None else self.description


@dataclass
class PipelineResult:
    status: RunStatus
    stages: dict[str, dict[str, Any]]
    layout: RunLayout
    context: RunContext
    unchanged: bool = False
    """Nothing changed since this completed version: no stage ran, ``context.record`` is its record."""

    @property
    def adapter(self) -> Path | None:
        train = self.context.train
        return train.adapter_dir if train is not None else None

    @property
    def merged(self) -> Path | None:
        return self.context.merged
