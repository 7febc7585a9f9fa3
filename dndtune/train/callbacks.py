"""Trainer callbacks: live metrics as dndtune events, a pause-safe stop, divergence detection.

These are the only places the trainer talks to the outside during a run; the CLI and the TUI
read the same ``train.*`` events.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from dndtune.events import CheckpointSaved, EventSink, TrainBegan, TrainDiverged, TrainEval, TrainStep, TrainStopping

STAGE = "train"


def process_memory_bytes() -> int:
    """Peak accelerator memory on CUDA, else this process's resident set size."""
    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    import psutil

    return int(psutil.Process().memory_info().rss)


class EventCallback(TrainerCallback):
    """Publishes ``train.step`` / ``train.eval`` / ``train.checkpoint`` and honours ``stop_event``.

    Setting ``stop_event`` (the TUI's pause button, the CLI's Ctrl-C) ends the run after the
    optimizer step in progress, with a checkpoint, so a rerun resumes exactly there.
    Tokens per second count only time spent in training steps, so evaluations and checkpoint
    writes do not drag the figure down.
    """

    def __init__(self, events: EventSink, *, stop_event: threading.Event | None = None,
                 metrics_path: Path | None = None, memory: Callable[[], int] = process_memory_bytes,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._events = events
        self._stop_event = stop_event
        self._metrics_path = metrics_path
        self._memory = memory
        self._clock = clock
        self._step_started = 0.0
        self._step_seconds = 0.0
        self._steps_timed = 0
        self._window_seconds = 0.0
        self._last_tokens: float | None = None
        self.stopped_by_request = False
        self.diverged: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []

    # Timing -----------------------------------------------------------------------------------
    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        self._last_tokens = None
        self._events.emit(TrainBegan(message=f"training from step {state.global_step} to {state.max_steps}",
                                     step=state.global_step, max_steps=state.max_steps))

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                      **kwargs: Any) -> None:
        self._step_started = self._clock()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        elapsed = self._clock() - self._step_started
        self._step_seconds += elapsed
        self._window_seconds += elapsed
        self._steps_timed += 1
        if self._stop_event is not None and self._stop_event.is_set() and not self.stopped_by_request:
            self.stopped_by_request = True
            control.should_training_stop = True
            control.should_save = True
            self._events.emit(TrainStopping(message=f"stop requested: saving a checkpoint at step {state.global_step}",
                                            step=state.global_step))

    # Metrics ----------------------------------------------------------------------------------
    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" not in logs:
            return
        step = state.global_step
        loss = float(logs["loss"])
        grad_norm = logs.get("grad_norm")
        tokens = logs.get("num_tokens")
        tokens_per_s = None
        if tokens is not None:
            # TRL counts tokens from zero in each process; the first log after a (re)start has no baseline.
            if self._last_tokens is not None and self._window_seconds > 0:
                tokens_per_s = (float(tokens) - self._last_tokens) / self._window_seconds
            elif self._window_seconds > 0:
                tokens_per_s = float(tokens) / self._window_seconds
            self._last_tokens = float(tokens)
        self._window_seconds = 0.0
        seconds_per_step = self._step_seconds / self._steps_timed if self._steps_timed else None
        eta = (state.max_steps - step) * seconds_per_step if seconds_per_step is not None else None
        message = f"step {step}/{state.max_steps} loss {loss:.4f}"
        if tokens_per_s is not None:
            message += f" {tokens_per_s:.0f} tok/s"
        event = TrainStep(message=message, step=step, max_steps=state.max_steps, epoch=state.epoch, loss=loss,
                          lr=logs.get("learning_rate"), grad_norm=None if grad_norm is None else float(grad_norm),
                          tokens_per_s=tokens_per_s, eta_s=eta, mem_bytes=self._memory(), s_per_step=seconds_per_step)
        self._record(event.data)
        self._events.emit(event)
        self._check_finite(step, loss, event.grad_norm, control)

    def _check_finite(self, step: int, loss: float, grad_norm: float | None, control: TrainerControl) -> None:
        bad = [name for name, value in (("loss", loss), ("grad_norm", grad_norm))
               if value is not None and not math.isfinite(value)]
        if not bad or self.diverged is not None:
            return
        self.diverged = {"step": step, "loss": loss, "grad_norm": grad_norm, "what": bad}
        control.should_training_stop = True
        # A checkpoint of diverged weights is worse than none: resuming would continue from NaN.
        control.should_save = False
        control.should_evaluate = False
        self._events.emit(TrainDiverged(message=f"{' and '.join(bad)} became non-finite at step {step}", step=step,
                                        loss=loss, grad_norm=grad_norm, what=bad))

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        metrics = metrics or {}
        if "eval_loss" not in metrics:
            return
        eval_loss = float(metrics["eval_loss"])
        best = state.best_metric
        event = TrainEval(message=f"step {state.global_step} eval loss {eval_loss:.4f}", step=state.global_step,
                          max_steps=state.max_steps, epoch=state.epoch, eval_loss=eval_loss,
                          best_eval_loss=None if best is None else min(float(best), eval_loss))
        self._record(event.data)
        self._events.emit(event)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        path = Path(args.output_dir or ".") / f"checkpoint-{state.global_step}"
        self._events.emit(CheckpointSaved(message=f"checkpoint saved at step {state.global_step}",
                                          step=state.global_step, path=str(path)))

    def _record(self, data: dict[str, Any]) -> None:
        self.history.append(data)
        if self._metrics_path is not None:
            with self._metrics_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(data) + "\n")
