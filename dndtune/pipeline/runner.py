"""Runs stages in order, keeps ``run.json`` current after each one, and stops cleanly when asked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import (
    EventSink,
    FanOutSink,
    PipelineStage,
    RunFinished,
    RunLogFailed,
    RunLogSink,
    RunUnchanged,
    RunVersion,
)
from dndtune.pipeline.context import PipelineResult, RunContext, RunStatus, Stage
from dndtune.pipeline.guard import CompletedRun, run_lock
from dndtune.pipeline.inputs import RunInputs, run_inputs
from dndtune.pipeline.record import now, start_record
from dndtune.pipeline.stages import DEFAULT_STAGES
from dndtune.pipeline.versions import VersionChoice, choose_version
from dndtune.recipe.loader import dump_recipe
from dndtune.recipe.schema import Recipe
from dndtune.registry import Registry, VersionRecord, record_completed
from dndtune.runs import RunFamily

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
        """Choose the version (:mod:`.versions`) and run the planned stages in it while holding the recipe's lock.

        Nothing changed since the latest completed version: nothing runs, its record is the result.
        """
        ctx = self.context
        family = self.family
        planned = [s.name for s in self.plan(stages)]
        with run_lock(family):
            latest = family.latest()
            if latest is not None:
                # A rerun killed while it finished a completed version's stages left that version's copy aside.
                CompletedRun(latest[1]).recover()
            inputs = run_inputs(ctx.recipe)
            choice = choose_version(family, inputs, resume=ctx.resume, stages=planned, frozen=self._frozen)
            ctx.layout = choice.layout
            if choice.reason == "unchanged":
                return self._unchanged(choice)
            with RunLogSink(ctx.layout.run_log, on_failure=self._log_failed) as log:
                console = ctx.events
                ctx.events = FanOutSink(console, log)
                try:
                    return self._run_version(choice, inputs, stages)
                finally:
                    ctx.events = console

    def _log_failed(self, reason: str) -> None:
        self.context.events.emit(RunLogFailed(message=reason))

    def _run_version(self, choice: VersionChoice, inputs: RunInputs, stages: Sequence[str] | None) -> PipelineResult:
        ctx = self.context
        family = self.family
        completed = CompletedRun(ctx.layout)
        same_folder = choice.reason in ("resume", "complete")
        ctx.previous = (choice.layout if same_folder else choice.previous or choice.layout).read_record()
        ctx.previous_layout = choice.layout if same_folder else choice.previous
        ctx.record.update({"family": family.name, "version": choice.version, "inputs": inputs.record(),
                           "changes": {**choice.changes.as_dict(), "since": choice.previous.name}
                           if choice.changes is not None and choice.previous is not None else None})
        ctx.events.emit(RunVersion(message=choice.describe(family), version=choice.version,
                                   run_dir=str(choice.layout.root), reason=choice.reason,
                                   previous=choice.previous.name if choice.previous is not None else None,
                                   changes=choice.changes.as_dict() if choice.changes is not None else None))
        kept = completed.keep(ctx.previous) if choice.reason == "complete" else False
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
        if result.status == "completed":
            self._record_version(choice, inputs)
        return result

    @property
    def family(self) -> RunFamily:
        recipe = self.context.recipe
        return RunFamily.under(recipe.output.dir, recipe.output.run_name)

    def _frozen(self, name: str) -> bool:
        try:
            return Registry(self.context.recipe.output.dir).read().is_frozen(name)
        except DndtuneError:
            return True  # an unreadable registry might hold it: write a new version rather than risk it

    def _unchanged(self, choice: VersionChoice) -> PipelineResult:
        ctx = self.context
        record = choice.layout.read_record()
        inputs = RunInputs.from_record(record.get("inputs"))
        code = f"dndtune {inputs.dndtune}" if inputs is not None else "dndtune"
        ctx.previous = ctx.record = record
        ctx.events.emit(RunUnchanged(
            message=f"nothing changed since run {choice.layout.name} (scenarios, recipe, base model and {code} are "
                    "the same): its results stand", version=choice.version, run_dir=str(choice.layout.root)))
        ctx.events.emit(RunFinished(message=f"run completed: {choice.layout.root}", status="completed",
                                    run_dir=str(choice.layout.root)))
        stages = record.get("stages")
        return PipelineResult(status="completed", stages=stages if isinstance(stages, dict) else {},
                              layout=choice.layout, context=ctx, unchanged=True)

    def _record_version(self, choice: VersionChoice, inputs: RunInputs) -> None:
        """A completed version that shipped a file goes into the registry with its digest and scores."""
        ctx = self.context
        export = ctx.record.get("export")
        if not isinstance(export, dict) or not export.get("sha256"):
            return
        evaluation = ctx.record.get("evaluate")
        scores = evaluation.get("scores") if isinstance(evaluation, dict) else None
        changes = ctx.record.get("changes")
        record_completed(ctx.recipe.output.dir, ctx.layout.name, VersionRecord(
            family=self.family.name, version=choice.version, gguf=export.get("gguf"), sha256=export.get("sha256"),
            bytes=export.get("bytes"), scores=scores if isinstance(scores, dict) else {},
            changes=changes.get("summary") if isinstance(changes, dict) else None))

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
    # The latest version until run() chooses (and takes the lock): what the app shows before a run starts.
    layout = RunFamily.under(recipe.output.dir, recipe.output.run_name).latest_layout()
    context = RunContext(recipe=recipe, layout=layout, events=events, stop_event=stop_event or threading.Event(),
                         resume=resume)
    return Pipeline(context, DEFAULT_STAGES if stages is None else stages)
