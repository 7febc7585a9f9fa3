"""Runs stages in order, keeps ``run.json`` current after each one, and stops cleanly when asked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, PipelineStage, RunFinished
from dndtune.pipeline.context import PipelineResult, RunContext, RunStatus, Stage
from dndtune.pipeline.guard import CompletedRun, run_folder_lock
from dndtune.pipeline.record import now, start_record
from dndtune.pipeline.stages import DEFAULT_STAGES
from dndtune.recipe.loader import dump_recipe
from dndtune.recipe.schema import Recipe
from dndtune.runs import RunLayout

PIPELINE = "pipeline"


class Pipeline:
    def __init__(self, context: RunContext, stages: Sequence[Stage] = DEFAULT_STAGES) -> None:
        self.context = context
        self.stages = tuple(stages)
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate stage names: {names}")

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def plan(self, stages: Sequence[str] | None = None) -> list[Stage]:
        """The stages ``run(stages)`` executes: those named plus what they need, in pipeline order."""
        by_name = {s.name: s for s in self.stages}
        wanted = list(stages) if stages is not None else list(by_name)
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise DndtuneError(f"unknown stage(s): {', '.join(unknown)}", fix=f"stages are {', '.join(by_name)}")
        selected: set[str] = set()
        pending = list(wanted)
        while pending:
            name = pending.pop()
            if name in selected:
                continue
            selected.add(name)
            pending.extend(n for n in by_name[name].needs if n in by_name)
        return [s for s in self.stages if s.name in selected]

    def until(self, last: str) -> list[str]:
        """The names of the stages up to and including ``last`` (what ``--until`` runs)."""
        names = self.stage_names
        if last not in names:
            raise DndtuneError(f"unknown stage: {last}", fix=f"stages are {', '.join(names)}")
        return names[: names.index(last) + 1]

    def run(self, stages: Sequence[str] | None = None) -> PipelineResult:
        """Run the planned stages while holding the run folder; a completed run's record survives a failed rerun."""
        ctx = self.context
        with run_folder_lock(ctx.layout):
            completed = CompletedRun(ctx.layout)
            completed.recover()
            ctx.previous = ctx.layout.read_record()
            kept = completed.keep(ctx.previous)
            try:
                result = self._run(stages)
            except BaseException as exc:
                if kept:
                    completed.restore({"status": "stopped" if isinstance(exc, KeyboardInterrupt) else "failed",
                                       "error": ctx.record.get("error"), "at": now()})
                raise
            if kept:
                if result.status == "completed":
                    completed.discard()
                else:
                    completed.restore({"status": result.status, "error": None, "at": now()})
            return result

    def _run(self, stages: Sequence[str] | None) -> PipelineResult:
        ctx = self.context
        write_text_atomic(ctx.layout.recipe, dump_recipe(ctx.recipe))
        ctx.record.update(start_record(ctx.recipe, ctx.layout))
        report: dict[str, dict[str, Any]] = {}
        status: RunStatus = "completed"
        for stage in self.plan(stages):
            if ctx.stop_event.is_set():
                status = "stopped"
                break
            ctx.events.emit(PipelineStage(stage=stage.name, message=stage.description, state="start"))
            started = time.perf_counter()
            try:
                stage.run(ctx)
            except BaseException as exc:
                seconds = time.perf_counter() - started
                report[stage.name] = {"status": "failed", "seconds": seconds}
                interrupted = isinstance(exc, KeyboardInterrupt)
                ctx.record["error"] = "interrupted" if interrupted else str(exc)
                self._save_record("stopped" if interrupted else "failed", report)
                raise
            seconds = time.perf_counter() - started
            stopped = ctx.train is not None and ctx.train.status == "stopped" and stage.name == "train"
            report[stage.name] = {"status": "stopped" if stopped else "done", "seconds": seconds}
            ctx.events.emit(PipelineStage(stage=stage.name, message=f"{stage.name} done in {seconds:.1f} s",
                                          level="debug", state="done", seconds=seconds))
            self._save_record("running", report)
            if stopped:
                status = "stopped"
                break
        self._save_record(status, report)
        ctx.events.emit(RunFinished(message=f"run {status}: {ctx.layout.root}", status=status,
                                    run_dir=str(ctx.layout.root)))
        return PipelineResult(status=status, stages=report, layout=ctx.layout, context=ctx)

    def _save_record(self, status: RunStatus, report: dict[str, dict[str, Any]]) -> None:
        ctx = self.context
        ctx.record["status"] = status
        ctx.record["stages"] = report
        ctx.record["updated_at"] = now()
        write_text_atomic(ctx.layout.run_json, json.dumps(ctx.record, indent=2, default=str) + "\n")


def build_pipeline(recipe: Recipe, events: EventSink, *, stop_event: threading.Event | None = None,
                   resume: bool | None = None, stages: Sequence[Stage] | None = None) -> Pipeline:
    """The pipeline for ``recipe``; ``stop_event`` ends training after the current step, with a checkpoint.

    ``resume``: ``None`` continues an interrupted run of the same recipe automatically,
    ``True`` insists on resuming, ``False`` discards earlier checkpoints and starts over.
    """
    layout = RunLayout.under(recipe.output.dir, recipe.output.run_name)
    context = RunContext(recipe=recipe, layout=layout, events=events, stop_event=stop_event or threading.Event(),
                         resume=resume)
    return Pipeline(context, DEFAULT_STAGES if stages is None else stages)
