"""What the Train and Export screens show, folded from pipeline events.

The worker thread only posts events; this reducer runs on the UI thread and is the one
place that knows which event fields the screens use, so a screen that is not mounted yet
(or was hidden during the run) redraws everything from here when it is shown.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from dndtune.evaluate.goals import GoalRow
from dndtune.events import (
    CheckpointSaved,
    EvaluateSkipped,
    Event,
    ExportDone,
    GoalsJudged,
    PipelineStage,
    QuantTried,
    RunFailed,
    RunFinished,
    TrainBegan,
    TrainEval,
    TrainStep,
    VerifyChecked,
    format_line,
)
from tui.memory_probe import MemorySample

RunStatus = Literal["idle", "running", "stopping", "stopped", "done", "failed"]

LOG_LINES = 500
MEMORY_SAMPLES = 240


@dataclass(frozen=True)
class QuantTry:
    """One rung of the export quant ladder as it was tried."""

    quant: str
    predicted_bytes: int | None
    fits: bool | None
    """Whether the predicted size is within the limit."""
    actual_bytes: int | None
    outcome: str | None = None
    """skipped | too-big | passed | ... as the export reported it when the rung was done."""
    perplexity: float | None = None


@dataclass(frozen=True)
class VerifyCheck:
    name: str
    passed: bool
    required: bool
    message: str


@dataclass
class RunState:
    status: RunStatus = "idle"
    stage: str = ""
    step: int = 0
    max_steps: int | None = None
    epoch: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)
    memory: deque[int] = field(default_factory=lambda: deque(maxlen=MEMORY_SAMPLES))
    """Bytes in use, sampled over time (GPU allocated, or process RAM on CPU)."""
    memory_device: str | None = None
    memory_reserved: int | None = None
    memory_total: int | None = None
    peak_memory: int | None = None
    """Largest figure the training steps reported (torch's peak allocation on CUDA, else RAM)."""
    checkpoint: str | None = None
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    log_count: int = 0
    """Lines ever logged (the deque forgets old ones): lets a log pane append only what is new."""
    quant_tries: list[QuantTry] = field(default_factory=list)
    export_path: str | None = None
    export_bytes: int | None = None
    export_quant: str | None = None
    manifest_path: str | None = None
    verify: list[VerifyCheck] = field(default_factory=list)
    samples: dict[str, str] = field(default_factory=dict)
    """Replies the exported model wrote during verification (read from its manifest)."""
    goals: list[GoalRow] = field(default_factory=list)
    """The evaluate stage's rows: each goal, the model's figure and the base model's."""
    verdict: str | None = None
    """The evaluate stage's one line (goals missed), or why it was skipped."""
    error: str | None = None

    def reset(self, status: RunStatus = "idle") -> None:
        """Forget every figure (the state object itself stays: screens hold on to it)."""
        self.__dict__.update(RunState(status=status).__dict__)

    def start(self) -> None:
        """Forget the previous attempt's figures; a resumed run reports its own from the checkpoint on."""
        self.reset("running")

    def add_log(self, line: str) -> None:
        self.log.append(line)
        self.log_count += 1

    def new_log_lines(self, seen: int) -> list[str]:
        """Lines logged after the first ``seen`` (as many as are still kept)."""
        fresh = min(self.log_count - seen, len(self.log))
        return list(self.log)[len(self.log) - fresh:] if fresh > 0 else []

    @property
    def active(self) -> bool:
        return self.status in ("running", "stopping")

    @property
    def verified(self) -> bool | None:
        """All required checks passed; None before any check reported."""
        if not self.verify:
            return None
        return all(c.passed for c in self.verify if c.required)

    @property
    def progress(self) -> float | None:
        if not self.max_steps:
            return None
        return min(1.0, self.step / self.max_steps)


def apply_event(state: RunState, event: Event) -> None:
    """Fold one event into ``state`` (mutates: the state is owned by the UI thread alone)."""
    match event:
        case PipelineStage(state="start"):
            state.stage = event.stage
        case RunFinished(status=status):
            finished: dict[str, RunStatus] = {"completed": "done", "stopped": "stopped"}
            state.status = finished.get(status, "failed")
        case RunFailed():
            state.status = "failed"
            state.error = event.message
        case TrainBegan(step=step, max_steps=max_steps):
            state.step = step
            state.max_steps = max_steps or state.max_steps
        case TrainStep():
            _apply_step(state, event)
        case TrainEval(step=step, eval_loss=loss):
            state.eval_loss.append((step, loss))
        case CheckpointSaved(path=path):
            state.checkpoint = path
        case QuantTried():
            state.quant_tries.append(QuantTry(quant=event.quant, predicted_bytes=event.predicted_bytes, fits=event.fits,
                                              actual_bytes=event.actual_bytes, outcome=event.outcome,
                                              perplexity=event.perplexity))
        case VerifyChecked():
            state.verify.append(VerifyCheck(name=event.check, passed=event.passed, required=event.required,
                                            message=event.message))
        case ExportDone():
            state.export_path = event.gguf
            state.export_bytes = event.bytes
            state.export_quant = event.quant
            state.manifest_path = event.manifest
        case GoalsJudged(rows=rows, verdict=verdict):
            state.goals = [GoalRow.from_dict(r) for r in rows]
            state.verdict = verdict or event.message
        case EvaluateSkipped():
            state.goals = []
            state.verdict = event.message
    # Step events arrive every step and are shown by the progress line; the log keeps the rest.
    if event.message and (not isinstance(event, TrainStep) or event.level in ("warning", "error")):
        state.add_log(format_line(event))


def apply_memory(state: RunState, sample: MemorySample) -> None:
    state.memory.append(sample.used)
    state.memory_device = sample.device
    state.memory_reserved = sample.reserved
    state.memory_total = sample.total


def seed_history(state: RunState, metrics_lines: list[str], up_to_step: int) -> None:
    """Put the curve of the steps before a resume back (from the run's ``metrics.jsonl``).

    A resumed run only reports the steps after its checkpoint; without this the chart would
    start in the middle. Later records of a step win (a step logged again after a resume).
    """
    train: dict[int, float] = {}
    evals: dict[int, float] = {}
    for line in metrics_lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        step = _int(record.get("step"))
        if step is None or step > up_to_step:
            continue
        loss, eval_loss = _float(record.get("loss")), _float(record.get("eval_loss"))
        if loss is not None:
            train[step] = loss
        if eval_loss is not None:
            evals[step] = eval_loss
    state.train_loss[:0] = sorted(train.items())
    state.eval_loss[:0] = sorted(evals.items())


def _apply_step(state: RunState, step: TrainStep) -> None:
    state.step = step.step
    state.max_steps = step.max_steps or state.max_steps
    state.epoch = step.epoch if step.epoch is not None else state.epoch
    state.lr = step.lr if step.lr is not None else state.lr
    state.grad_norm = step.grad_norm if step.grad_norm is not None else state.grad_norm
    state.tokens_per_s = step.tokens_per_s if step.tokens_per_s is not None else state.tokens_per_s
    state.eta_s = step.eta_s if step.eta_s is not None else state.eta_s
    if step.loss is not None:
        state.train_loss.append((state.step, step.loss))
    if step.mem_bytes is not None:
        state.peak_memory = max(step.mem_bytes, state.peak_memory or 0)


def _float(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool) or value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
