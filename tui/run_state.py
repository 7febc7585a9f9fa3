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
from dndtune.events import Event
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
    data = event.data
    if event.kind == "pipeline.stage" and data.get("state") == "start":
        state.stage = str(data.get("stage", event.stage))
    elif event.kind == "pipeline.done":
        finished: dict[str, RunStatus] = {"completed": "done", "stopped": "stopped"}
        state.status = finished.get(str(data.get("status")), "failed")
    elif event.kind == "run.failed":
        state.status = "failed"
        state.error = event.message
    elif event.kind == "train.begin":
        state.step = _int(data.get("step")) or 0
        state.max_steps = _int(data.get("max_steps")) or state.max_steps
    elif event.kind == "train.step":
        _apply_step(state, data)
    elif event.kind == "train.eval":
        loss = _float(data.get("eval_loss", data.get("loss")))
        step = _int(data.get("step"))
        if loss is not None:
            state.eval_loss.append((step if step is not None else state.step, loss))
    elif event.kind == "train.checkpoint":
        path = data.get("path")
        state.checkpoint = str(path) if path is not None else state.checkpoint
    elif event.kind == "export.quant_try":
        fits = data.get("fits")
        state.quant_tries.append(QuantTry(
            quant=str(data.get("quant", "?")),
            predicted_bytes=_int(data.get("predicted_bytes")),
            fits=fits if isinstance(fits, bool) else None,
            actual_bytes=_int(data.get("actual_bytes")),
            outcome=str(data["outcome"]) if data.get("outcome") else None,
            perplexity=_float(data.get("perplexity")),
        ))
    elif event.kind == "export.verify":
        state.verify.append(VerifyCheck(
            name=str(data.get("check", "check")),
            passed=bool(data.get("passed", event.level != "error")),
            required=bool(data.get("required", True)),
            message=event.message,
        ))
    elif event.kind == "export.done":
        state.export_path = str(data["gguf"]) if data.get("gguf") else state.export_path
        state.export_bytes = _int(data.get("bytes")) or state.export_bytes
        state.export_quant = str(data["quant"]) if data.get("quant") else state.export_quant
        state.manifest_path = str(data["manifest"]) if data.get("manifest") else state.manifest_path
    elif event.kind == "evaluate.goals":
        rows = data.get("rows")
        state.goals = [GoalRow.from_dict(r) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
        state.verdict = str(data.get("verdict") or event.message)
    elif event.kind == "evaluate.skipped":
        state.goals = []
        state.verdict = event.message
    # Step events arrive every step and are shown by the progress line; the log keeps the rest.
    if event.message and (event.kind != "train.step" or event.level in ("warning", "error")):
        state.add_log(_log_line(event))


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


def _apply_step(state: RunState, data: dict[str, Any]) -> None:
    step = _int(data.get("step"))
    if step is not None:
        state.step = step
    max_steps = _int(data.get("max_steps"))
    if max_steps:
        state.max_steps = max_steps
    state.epoch = _float(data.get("epoch"), state.epoch)
    state.lr = _float(data.get("lr"), state.lr)
    state.grad_norm = _float(data.get("grad_norm"), state.grad_norm)
    state.tokens_per_s = _float(data.get("tokens_per_s"), state.tokens_per_s)
    state.eta_s = _float(data.get("eta_s"), state.eta_s)
    loss = _float(data.get("loss"))
    if loss is not None:
        state.train_loss.append((state.step, loss))
    mem = _int(data.get("mem_bytes"))
    if mem is not None:
        state.peak_memory = max(mem, state.peak_memory or 0)


def _log_line(event: Event) -> str:
    prefix = {"error": "error: ", "warning": "warning: "}.get(event.level, "")
    return f"[{event.stage}] {prefix}{event.message}"


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
