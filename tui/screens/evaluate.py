"""Evaluate: ``dndtune eval`` on the latest (or chosen) run in a worker, its scores against the goals and the
base model, the evaluated turns and the chart.

On show the screen reads the run's ``eval.json`` (what the pipeline's evaluate stage or ``dndtune eval``
wrote). ``e`` evaluates the run again as ``dndtune eval RUN`` does, on the run's held-out split with the
CLI's defaults, keeping every turn's reply for the list; the base model's report already in ``eval.json``
is kept beside the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ProgressBar, Static

from dndtune.errors import DndtuneError
from dndtune.evaluate import EvalOptions, evaluate, open_runner
from dndtune.evaluate.baseline import BASE_LABEL
from dndtune.evaluate.examples import load_jsonl
from dndtune.evaluate.report import EvalFile, EvalReport, plot_comparison, read_eval_file, write_eval_file
from dndtune.evaluate.runner import ModelRunner
from dndtune.evaluate.targets import resolve_target
from dndtune.events import CallbackSink, EvalNothingRun, EvalProgress, Event, EventSink, StageStarted
from dndtune.registry import ModelVersion
from tui.screens.base import DndtuneScreen
from tui.widgets.evaluate.eval_chart import chart_renderable
from tui.widgets.evaluate.score_table import scores_renderable
from tui.widgets.evaluate.turn_list import turns_renderable
from tui.widgets.models.versions import Versions, read_versions

ALL_TURNS = 1_000_000
"""``EvalOptions.samples`` that keeps every evaluated turn (the list shows them all)."""

RunnerOpener = Callable[..., ModelRunner]
open_model: RunnerOpener = open_runner
"""How a model file is opened; tests put a scripted runner here."""


def cli_options() -> EvalOptions:
    """``dndtune eval``'s defaults (max tokens 200, regression suite, roll grammar), every turn kept."""
    return EvalOptions(max_tokens=200, regression=True, grammar=True, samples=ALL_TURNS)


def evaluate_version(version: ModelVersion, events: EventSink, options: EvalOptions | None = None) -> Path:
    """What ``dndtune eval RUN`` does for one run: evaluate its model on its held-out split, write
    ``eval.json`` and the chart. The base model's report already in ``eval.json`` stays beside it."""
    target = resolve_target(version.run.root)
    split = version.run.eval_split
    if split is None:
        raise DndtuneError("no held-out split to evaluate on", path=str(version.run.layout.eval_split),
                           fix="set data.eval_fraction > 0 in the recipe and run it again")
    examples = load_jsonl(split)
    runner = open_model(target.model, label=target.label)
    try:
        report = evaluate(runner, examples, options=options or cli_options(), events=events, source=str(split))
    finally:
        runner.close()
    previous = read_eval_file(version.run.eval_json)
    bases = [r for r in previous.reports if r.model.label == BASE_LABEL] if previous is not None else []
    reports = [report, *bases]
    write_eval_file(version.run.eval_json, reports, primary=report.model.label)
    plot_comparison(reports, version.run.layout.eval_chart)
    return version.run.eval_json


def split_reports(evaluation: EvalFile | None) -> tuple[EvalReport | None, EvalReport | None]:
    """(the run's own report, the base model's) from an ``eval.json``."""
    if evaluation is None:
        return None, None
    primary = evaluation.primary_report()
    base = next((r for r in evaluation.reports if r.model.label == BASE_LABEL and r is not primary), None)
    return primary, base


class EvalEvent(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class EvalFinished(Message):
    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error


class EvaluateScreen(DndtuneScreen):
    MODE = "evaluate"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "evaluate", "Evaluate"),
        Binding("left_square_bracket", "cycle(-1)", "Prev run"),
        Binding("right_square_bracket", "cycle(1)", "Next run"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.versions: Versions | None = None
        self.chosen: str | None = None
        """The run shown; None follows the newest."""
        self.running: str | None = None
        """The run being evaluated now."""
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        yield Static(id="eval-status")
        yield ProgressBar(id="eval-progress", show_eta=False)
        with Horizontal(id="eval-body"):
            with VerticalScroll(id="eval-scores"):
                yield Static(id="eval-scores-body")
            with Vertical(id="eval-right"):
                yield Static(id="eval-chart")
                with VerticalScroll(id="eval-turns"):
                    yield Static(id="eval-turns-body")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#eval-scores").border_title = "scores"
        self.query_one("#eval-chart").border_title = "chart"
        self.query_one("#eval-turns").border_title = "turns"
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # --- what is shown ------------------------------------------------------------------------

    @property
    def version(self) -> ModelVersion | None:
        if self.versions is None:
            return None
        if self.chosen is not None and (found := self.versions.find(self.chosen)) is not None:
            return found
        return self.versions.latest(with_gguf=True) or self.versions.latest()

    def action_reload(self) -> None:
        try:
            self.versions = read_versions(self.dndtune.output_dir())
        except DndtuneError as exc:
            self.versions = None
            self.error = str(exc)
        self.redraw()

    def action_cycle(self, step: int) -> None:
        if self.versions is None or not self.versions.versions:
            return
        names = [v.name for v in self.versions.versions]
        current = self.version
        index = names.index(current.name) if current is not None else 0
        self.chosen = names[(index + step) % len(names)]
        self.error = None
        self.action_reload()

    def action_next_run(self) -> None:
        self.action_cycle(1)

    def redraw(self) -> None:
        version = self.version
        evaluation: EvalFile | None = None
        note = self.error
        if version is not None and note is None:
            try:
                evaluation = read_eval_file(version.run.eval_json)
            except DndtuneError as exc:
                note = str(exc)
        report, base = split_reports(evaluation)
        self.query_one("#eval-status", Static).update(self._status(version, report, note))
        self.query_one("#eval-progress").display = self.running is not None
        self.query_one("#eval-scores-body", Static).update(scores_renderable(report, base, note))
        chart = self.query_one("#eval-chart", Static)
        chart.update(chart_renderable(report, base, max(20, chart.content_region.width or 36)))
        samples = report.samples if report is not None else []
        evaluated = report.data.evaluated_turns if report is not None else None
        self.query_one("#eval-turns-body", Static).update(turns_renderable(samples, evaluated))

    def _status(self, version: ModelVersion | None, report: EvalReport | None, note: str | None) -> Text:
        if version is None:
            where = self.dndtune.output_dir() / "runs"
            return Text(note or f"No runs in {where}: train and export one first (screen 4).", style="dim")
        line = Text.assemble(("run ", "dim"), (version.name, "bold"))
        if version.promoted:
            line.append(" (promoted)", style="green")
        if self.running is not None:
            line.append(f" · evaluating {self.running}…", style="yellow")
        elif report is not None:
            data = report.data
            line.append(f" · {data.evaluated_turns}/{data.turns} DM turns · {report.created[:16]}", style="dim")
            if report.grammar:
                line.append(f" · grammar {report.grammar}", style="dim")
        elif note is None:
            line.append(" · not evaluated yet", style="dim")
        return line

    # --- evaluating ----------------------------------------------------------------------------

    def action_evaluate(self) -> None:
        version = self.version
        if self.running is not None:
            self.notify(f"Already evaluating {self.running}.", severity="warning")
            return
        if version is None:
            self.notify("No run to evaluate: train and export one first (screen 4).", severity="error")
            return
        self.running = version.name
        self.error = None
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        self.redraw()
        self._evaluate(version)

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def _evaluate(self, version: ModelVersion) -> None:
        def forward(event: Event) -> None:
            # post_message is thread-safe and never waits for the UI.
            self.post_message(EvalEvent(event))

        sink = CallbackSink(forward)
        try:
            evaluate_version(version, sink)
        except DndtuneError as exc:
            self.post_message(EvalFinished(str(exc)))
        except Exception as exc:  # shown on the screen instead of tearing the app down
            self.post_message(EvalFinished(f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(EvalFinished(None))

    def on_eval_event(self, message: EvalEvent) -> None:
        event = message.event
        match event:
            case EvalProgress(done=done, total=total):
                self.query_one(ProgressBar).update(total=total, progress=done)
            case StageStarted() | EvalNothingRun():
                self.notify(event.message, title="Evaluate", timeout=5,
                            severity="warning" if event.level == "warning" else "information")

    def on_eval_finished(self, message: EvalFinished) -> None:
        name, self.running = self.running, None
        if message.error is not None:
            self.error = message.error
            self.notify(message.error, title="Evaluation failed", severity="error", timeout=15)
        else:
            self.notify(f"{name}: eval.json and eval.png written", title="Evaluate")
        self.action_reload()
