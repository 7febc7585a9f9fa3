"""``dndtune --recipe R [--set k=v ...] [--dry-run]``: the headless run of the whole pipeline.

Loads and validates the recipe, prints the plan for ``--dry-run``, otherwise builds the pipeline
with :func:`dndtune.pipeline.build_pipeline` (the same factory the TUI uses) and renders its
events: a progress bar for training steps on a terminal (a line every few percent in logs), a
line per evaluation and per stage. Ctrl-C asks training to stop after the current step and save
a checkpoint (rerunning the same command resumes); a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from dndtune.cli.console import ConsoleSink
from dndtune.evaluate.goals import GoalRow, table_lines
from dndtune.evaluate.stage import EvaluateResult
from dndtune.events import (
    AdapterSaved,
    Event,
    RunFinished,
    StopRequested,
    TrainBegan,
    TrainDiverged,
    TrainStep,
    TrainStopped,
    format_line,
)
from dndtune.export.gate import gate_lines
from dndtune.pipeline import build_pipeline
from dndtune.pipeline.plan import describe_plan, failing_checks, plan_report
from dndtune.recipe.loader import load_recipe
from dndtune.runs import RunLayout

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from dndtune.pipeline import PipelineResult
    from dndtune.recipe.schema import Recipe

EXIT_STOPPED = 130


def run_recipe(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, list(getattr(args, "overrides", []) or []))
    if getattr(args, "dry_run", False):
        return dry_run(recipe)
    # Before anything imports transformers: its download/loading bars would garble the progress bar.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    stop = threading.Event()
    console = RunConsole(sys.stderr, verbose=bool(getattr(args, "verbose", False)))
    pipeline = build_pipeline(recipe, console, stop_event=stop, resume=getattr(args, "resume", None))
    until: str | None = getattr(args, "until", None)
    stages: list[str] | None = pipeline.until(until) if until else getattr(args, "stages", None)
    try:
        with stop_on_interrupt(stop, console):
            result = pipeline.run(stages)
    finally:
        console.close()
    print(summary(result))
    return 0 if result.status == "completed" else EXIT_STOPPED


def plan_text(recipe: Recipe) -> str:
    """The resolved recipe and the plan (stages, memory, steps) from :mod:`dndtune.pipeline.plan`."""

    text: str = describe_plan(recipe)
    return text


def dry_run(recipe: Recipe) -> int:
    """Print the plan; exit 1 when the doctor says the run would fail, so scripts can gate on it."""
    text, plan = plan_report(recipe)
    print(text)
    failing = failing_checks(plan)
    if not failing:
        return 0
    more = f" (and {len(failing) - 1} more in the plan above)" if len(failing) > 1 else ""
    print(f"dndtune: error: dry run: the run would fail: {failing[0]}{more}", file=sys.stderr)
    return 1


@contextmanager
def stop_on_interrupt(stop: threading.Event, console: RunConsole) -> Iterator[None]:
    """First Ctrl-C: stop after the current training step, with a checkpoint. Second: abort."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.emit(StopRequested(message="stopping after the current step to save a checkpoint "
                                          "(Ctrl-C again to abort without one)"))

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class RunConsole:
    """Event sink for the headless run: a training progress bar plus :class:`ConsoleSink` lines."""

    def __init__(self, stream: TextIO, *, verbose: bool = False) -> None:
        self._stream = stream
        self._lines = ConsoleSink(stream, verbose=verbose)
        self._interactive = stream.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_printed = 0

    def emit(self, event: Event) -> None:
        match event:
            case TrainStep():
                self._step(event)
                return
            case TrainBegan():
                self._begin(event)
        if self._progress is None:
            self._lines.emit(event)
        elif event.message and event.level != "debug":
            # Printed above the live bar, which keeps redrawing below.
            self._progress.console.print(format_line(event), markup=False, highlight=False)
        if isinstance(event, (TrainStopped, AdapterSaved, TrainDiverged, RunFinished)):
            self.close()

    def _begin(self, began: TrainBegan) -> None:
        if not self._interactive or self._progress is not None:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), console=Console(file=self._stream), transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=began.max_steps or None, completed=began.step, stats="")

    def _step(self, event: TrainStep) -> None:
        stats = step_stats(event)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=event.step, total=event.max_steps, stats=stats)
            return
        step, total = event.step, event.max_steps or event.step
        every = max(1, total // 20)
        if step in (1, total) or step - self._last_printed >= every:
            self._last_printed = step
            print(f"[train] step {step}/{total} {stats}", file=self._stream, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def step_stats(step: TrainStep) -> str:
    parts = [f"loss {step.loss:.4f}"] if step.loss is not None else []
    if step.lr is not None:
        parts.append(f"lr {step.lr:.2e}")
    if step.tokens_per_s:
        parts.append(f"{step.tokens_per_s:.0f} tok/s")
    if step.eta_s is not None:
        parts.append(f"eta {_duration(step.eta_s)}")
    if step.mem_bytes:
        parts.append(f"mem {step.mem_bytes / 2**30:.1f} GiB")
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def summary(result: PipelineResult) -> str:
    """The closing lines: status, where the outputs are, and the figures worth keeping."""
    if result.unchanged:
        return unchanged_summary(result.context.record, result.layout.root)
    ctx = result.context
    evaluation = ctx.evaluation
    # The verdict sits on the status line: a run that completed with a model that misses its goals says so.
    verdict = f" — {evaluation.verdict.summary()}" if evaluation is not None else ""
    lines = [f"run {ctx.layout.name}: {result.status}{verdict}  ({ctx.layout.root})"]
    train = ctx.train
    if train is not None:
        figures = [f"{train.step}/{train.max_steps} steps"]
        if train.final_loss is not None:
            figures.append(f"final loss {train.final_loss:.4f}")
        if train.best_eval_loss is not None:
            figures.append(f"best eval loss {train.best_eval_loss:.4f}")
        if train.early_stopped:
            figures.append("stopped early")
        lines.append(f"  training  {', '.join(figures)} ({train.engine}, {train.seconds:.0f} s)")
        if train.status == "stopped" and train.checkpoint is not None:
            lines.append(f"  checkpoint {train.checkpoint}")
            lines.append("  rerun the same command to resume from it")
    if result.adapter is not None:
        lines.append(f"  adapter   {result.adapter}")
    if result.merged is not None:
        lines.append(f"  merged    {result.merged}")
    if ctx.export is not None:
        manifest = ctx.export.manifest
        lines.append(f"  gguf      {ctx.export.gguf} ({manifest.quant}, {manifest.bytes / 1e6:.1f} MB)")
        lines.extend(f"  {line}" for line in gate_lines(manifest.gate))
    total = sum(float(s.get("seconds", 0.0)) for s in result.stages.values())
    lines.append(f"  wall time {_duration(total)}; record: {ctx.layout.run_json}")
    if evaluation is not None:
        lines.extend(_evaluation_lines(evaluation))
    return "\n".join(lines)


def unchanged_summary(record: dict[str, Any], root: Path) -> str:
    """The closing lines of a version nothing changed since, from its ``run.json``: what it made and scored."""
    lines = [f"run {root.name}: {record.get('status')}, nothing changed since it ran  ({root})"]
    train = _section(record, "train")
    if train.get("step") is not None:
        loss = f", final loss {train['final_loss']:.4f}" if isinstance(train.get("final_loss"), float) else ""
        lines.append(f"  training  {train.get('step')}/{train.get('max_steps')} steps{loss}")
    export = _section(record, "export")
    if export.get("gguf"):
        size = f", {export['bytes'] / 1e6:.1f} MB" if isinstance(export.get("bytes"), int) else ""
        lines.append(f"  gguf      {export['gguf']} ({export.get('quant')}{size})")
    lines.append(f"  record    {RunLayout(root).run_json}")
    evaluation = _section(record, "evaluate")
    if evaluation.get("goals"):
        lines.append(f"  eval      {evaluation.get('eval_file')}: {evaluation.get('verdict', '')}")
        rows = [GoalRow.from_dict(row) for row in evaluation["goals"] if isinstance(row, dict)]
        lines.extend(table_lines(rows, indent="  "))
    return "\n".join(lines)


def _section(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _evaluation_lines(evaluation: EvaluateResult) -> list[str]:
    """Where the report is, what was measured, and the goals table (score | this model | base | goal | ok)."""

    report, base = evaluation.report, evaluation.baseline
    data = report.data
    measured = f"{data.evaluated_turns}/{data.turns} held-out DM turns"
    if base is not None:
        cached = ", cached" if base.cached else ""
        measured += f"; base model on {base.report.data.evaluated_turns}{cached}"
    lines = [f"  eval      {evaluation.eval_file} ({measured})"]
    return lines + table_lines(evaluation.verdict.rows, indent="  ")
