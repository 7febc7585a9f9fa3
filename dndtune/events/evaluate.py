"""Events of the evaluate stage (and ``dndtune eval``), and of ``dndtune deploy``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dndtune.events.base import Event, Level


@dataclass(frozen=True, kw_only=True)
class EvalProgress(Event):
    kind: ClassVar[str] = "eval.progress"
    stage: str = "evaluate"
    level: Level = "debug"
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class EvalNothingRun(Event):
    """No DM turn could be generated (the message says why)."""

    kind: ClassVar[str] = "eval.skipped"
    stage: str = "evaluate"
    level: Level = "warning"


@dataclass(frozen=True, kw_only=True)
class EvalConverting(Event):
    """``dndtune eval --ladder`` makes the f16 GGUF the quants are measured against."""

    kind: ClassVar[str] = "eval.convert"
    stage: str = "evaluate"


@dataclass(frozen=True, kw_only=True)
class EvalQuantizing(Event):
    kind: ClassVar[str] = "eval.quantize"
    stage: str = "evaluate"


@dataclass(frozen=True, kw_only=True)
class BaselineScoring(Event):
    """The base model is scored once on this split; later runs reuse the figures."""

    kind: ClassVar[str] = "evaluate.baseline"
    stage: str = "evaluate"
    model: str


@dataclass(frozen=True, kw_only=True)
class BaselineCached(Event):
    kind: ClassVar[str] = "evaluate.baseline.cached"
    stage: str = "evaluate"
    path: str


@dataclass(frozen=True, kw_only=True)
class BaselineFailed(Event):
    kind: ClassVar[str] = "evaluate.baseline.failed"
    stage: str = "evaluate"
    level: Level = "warning"


@dataclass(frozen=True, kw_only=True)
class EvaluateSkipped(Event):
    kind: ClassVar[str] = "evaluate.skipped"
    stage: str = "evaluate"
    level: Level = "warning"
    reason: str


@dataclass(frozen=True, kw_only=True)
class EvaluateCached(Event):
    """The exported file, split and settings are unchanged: the stored report is reused."""

    kind: ClassVar[str] = "evaluate.cached"
    stage: str = "evaluate"
    path: str


@dataclass(frozen=True, kw_only=True)
class GoalsJudged(Event):
    """The model against the goals (and the base model): the table the summary and the TUI show."""

    kind: ClassVar[str] = "evaluate.goals"
    stage: str = "evaluate"
    rows: list[dict[str, Any]]
    """``dndtune.evaluate.goals.GoalRow.as_dict()`` per goal."""
    eval_file: str
    verdict: str
    model: str


@dataclass(frozen=True, kw_only=True)
class DeployCopying(Event):
    kind: ClassVar[str] = "deploy.copy"
    stage: str = "deploy"


@dataclass(frozen=True, kw_only=True)
class DeployConverting(Event):
    kind: ClassVar[str] = "deploy.convert"
    stage: str = "deploy"


@dataclass(frozen=True, kw_only=True)
class DeployTesting(Event):
    kind: ClassVar[str] = "deploy.test"
    stage: str = "deploy"


@dataclass(frozen=True, kw_only=True)
class Deployed(Event):
    kind: ClassVar[str] = "deploy.done"
    stage: str = "deploy"
    path: str
