"""What a training run is asked to do (:class:`TrainJob` and its parts) and what it reports back.

Plain data, no heavy imports: the pipeline builds a job before transformers may be imported
(Unsloth has to come first, see :mod:`dndtune.train.engine`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from dndtune.errors import DndtuneError
from dndtune.models.profiles import ToolFormat
from dndtune.runs import RunLayout
from dndtune.train.engine import EngineChoice
from dndtune.train.load import LoraSpec

LrScheduler = str
ReportTo = Literal["none", "tensorboard", "trackio"]
"""Where transformers also sends the training logs (``train.report_to``)."""


@dataclass(frozen=True)
class ModelSpec:
    """What training needs to know about the base model."""

    path: Path
    chat_template: str | None
    """Template to render with (the profile's); ``None`` keeps the tokenizer's own."""
    end_of_turn: str | None
    target_modules: tuple[str, ...]
    tool_format: ToolFormat | None = None
    """How the family writes a tool call: where :attr:`Hyperparameters.decision_loss_weight` applies."""


@dataclass(frozen=True)
class Hyperparameters:
    """The ``train`` section of a recipe, as the engine consumes it."""

    epochs: float = 3.0
    max_steps: int | None = None
    lr: float = 2e-4
    lr_scheduler: LrScheduler = "cosine"
    warmup_ratio: float = 0.05
    batch_size: int = 1
    grad_accum: int = 4
    seed: int = 42
    save_steps: int = 50
    eval_steps: int = 25
    logging_steps: int = 1
    early_stopping_patience: int | None = 3
    gradient_checkpointing: bool = True
    save_total_limit: int = 3
    weight_decay: float = 0.0
    decision_loss_weight: float = 1.0
    report_to: ReportTo = "none"
    """Also log to TensorBoard (``RunLayout.tensorboard``) or Trackio; never part of the resume key."""

    @classmethod
    def from_section(cls, section: Any) -> Hyperparameters:
        """From a recipe's ``TrainSection`` (any object with the same attribute names)."""
        names = cls.__dataclass_fields__
        return cls(**{name: getattr(section, name) for name in names})


REPORTERS: dict[str, tuple[tuple[str, ...], str]] = {
    "tensorboard": (("tensorboard", "tensorboardX"), "pip install tensorboard"),
    "trackio": (("trackio",), "pip install trackio"),
}
"""``train.report_to`` value -> (modules of which one must import, the install command)."""


def require_reporter(report_to: str) -> None:
    """Fails (one line: the package and its install command) when ``report_to``'s package is missing.

    Looked up with ``find_spec``, never imported, so it costs nothing before the model loads.
    """
    if report_to not in REPORTERS:
        return
    modules, install = REPORTERS[report_to]
    if any(importlib.util.find_spec(module) is not None for module in modules):
        return
    raise DndtuneError(f"train.report_to is {report_to} but the {modules[0]} package is not installed",
                       fix=f"{install}, or set train.report_to: none")


@dataclass(frozen=True)
class TrainJob:
    model: ModelSpec
    lora: LoraSpec
    hparams: Hyperparameters
    max_seq_length: int
    layout: RunLayout
    engine: EngineChoice
    resume: bool | None = None
    """``None``: continue from a matching checkpoint when there is one; ``True``/``False``: force."""
    continue_from: Path | None = None
    """The checkpoints of the version this one follows: its last one is continued when the setup matches."""
    release_freed_memory: bool = True
    """On CPU, hand freed heap pages back to the OS after each step (:mod:`dndtune.train.allocator`);
    ``benchmarks/train_step.py`` turns it off to measure what it costs."""


@dataclass
class TrainResult:
    status: Literal["completed", "stopped"]
    step: int
    max_steps: int
    adapter_dir: Path | None
    checkpoint: Path | None
    resumed_from_step: int | None
    final_loss: float | None
    best_eval_loss: float | None
    early_stopped: bool
    seconds: float
    train_labels: dict[str, Any]
    eval_labels: dict[str, Any] | None
    resume_key: str
    engine: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("history")
        for key in ("adapter_dir", "checkpoint"):
            data[key] = None if data[key] is None else str(data[key])
        return data
