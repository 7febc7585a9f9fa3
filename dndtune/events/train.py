"""Events of training and merging (the ``train`` and ``merge`` stages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dndtune.events.base import Event, Level
from dndtune.events.run import EngineChosen


@dataclass(frozen=True, kw_only=True)
class TrainEngine(EngineChosen):
    """The engine the trainer runs on, as the trainer received it (the doctor chose it)."""

    kind: ClassVar[str] = "train.engine"
    stage: str = "train"
    level: Level = "debug"


@dataclass(frozen=True, kw_only=True)
class EngineLog(Event):
    """A line the engine printed (Unsloth's banner and patches), kept for ``--verbose``."""

    kind: ClassVar[str] = "train.engine.log"
    stage: str = "train"
    level: Level = "debug"


@dataclass(frozen=True, kw_only=True)
class LabelsCounted(Event):
    """How much of one split the loss sees, after the chat template and truncation."""

    kind: ClassVar[str] = "train.labels"
    stage: str = "train"
    split: str
    conversations: int
    kept: int
    truncated: int
    dropped_no_labels: int
    tokens: int
    trained_tokens: int
    longest: int
    shortest_dropped_prompt: int | None


@dataclass(frozen=True, kw_only=True)
class LabelsDropped(Event):
    kind: ClassVar[str] = "train.labels.dropped"
    stage: str = "train"
    level: Level = "warning"
    split: str
    dropped: int


@dataclass(frozen=True, kw_only=True)
class NoEvalSplit(Event):
    kind: ClassVar[str] = "train.no_eval"
    stage: str = "train"
    level: Level = "warning"


@dataclass(frozen=True, kw_only=True)
class ModelLoaded(Event):
    kind: ClassVar[str] = "train.model"
    stage: str = "train"
    trainable_params: int
    total_params: int


@dataclass(frozen=True, kw_only=True)
class WeightsUnsupported(Event):
    """``train.decision_loss_weight`` cannot be applied to this model; its own loss is used."""

    kind: ClassVar[str] = "train.weights.unsupported"
    stage: str = "train"
    level: Level = "warning"


@dataclass(frozen=True, kw_only=True)
class TrainFresh(Event):
    """Earlier checkpoints were removed: training starts over."""

    kind: ClassVar[str] = "train.fresh"
    stage: str = "train"


@dataclass(frozen=True, kw_only=True)
class TrainResumed(Event):
    kind: ClassVar[str] = "train.resume"
    stage: str = "train"
    step: int
    path: str


@dataclass(frozen=True, kw_only=True)
class TrainCached(Event):
    """Nothing the adapter depends on changed since the last completed run: it is reused."""

    kind: ClassVar[str] = "train.cached"
    stage: str = "train"
    path: str


@dataclass(frozen=True, kw_only=True)
class TrainBegan(Event):
    kind: ClassVar[str] = "train.begin"
    stage: str = "train"
    step: int
    max_steps: int


@dataclass(frozen=True, kw_only=True)
class TrainStep(Event):
    """One logged optimizer step (also a line of ``metrics.jsonl``)."""

    kind: ClassVar[str] = "train.step"
    stage: str = "train"
    level: Level = "debug"
    step: int
    max_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    mem_bytes: int | None = None
    s_per_step: float | None = None


@dataclass(frozen=True, kw_only=True)
class TrainEval(Event):
    kind: ClassVar[str] = "train.eval"
    stage: str = "train"
    step: int
    max_steps: int | None = None
    epoch: float | None = None
    eval_loss: float
    best_eval_loss: float | None = None


@dataclass(frozen=True, kw_only=True)
class TrainDiverged(Event):
    """Loss or gradient norm became NaN or infinite: training stops without saving those weights."""

    kind: ClassVar[str] = "train.diverged"
    stage: str = "train"
    level: Level = "error"
    step: int
    loss: float
    grad_norm: float | None
    what: list[str]


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved(Event):
    kind: ClassVar[str] = "train.checkpoint"
    stage: str = "train"
    level: Level = "debug"
    step: int
    path: str


@dataclass(frozen=True, kw_only=True)
class TrainStopping(Event):
    """A stop was asked for: the trainer saves a checkpoint at this step and ends."""

    kind: ClassVar[str] = "train.stopping"
    stage: str = "train"
    step: int


@dataclass(frozen=True, kw_only=True)
class TrainStopped(Event):
    kind: ClassVar[str] = "train.stopped"
    stage: str = "train"
    step: int
    checkpoint: str


@dataclass(frozen=True, kw_only=True)
class EarlyStopped(Event):
    kind: ClassVar[str] = "train.early_stop"
    stage: str = "train"
    step: int


@dataclass(frozen=True, kw_only=True)
class LossPlotted(Event):
    kind: ClassVar[str] = "train.plot"
    stage: str = "train"
    level: Level = "debug"
    path: str


@dataclass(frozen=True, kw_only=True)
class AdapterSaved(Event):
    kind: ClassVar[str] = "train.adapter"
    stage: str = "train"
    path: str


@dataclass(frozen=True, kw_only=True)
class MergeStarted(Event):
    kind: ClassVar[str] = "merge.start"
    stage: str = "merge"
    base: str
    adapter: str
    dtype: str


@dataclass(frozen=True, kw_only=True)
class MergeDone(Event):
    kind: ClassVar[str] = "merge.done"
    stage: str = "merge"
    path: str
    bytes: int
    dtype: str


@dataclass(frozen=True, kw_only=True)
class MergeCached(Event):
    kind: ClassVar[str] = "merge.cached"
    stage: str = "merge"
    path: str
