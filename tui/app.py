"""The dndtune Textual app; :func:`make_app` builds it for the CLI and for the tests alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer

from dndtune.env.environment import EnvReport, collect_environment
from dndtune.errors import DndtuneError
from dndtune.events import CallbackSink, Event, ExportDone, RunFailed, TrainResumed
from dndtune.export.manifest import read_manifest
from dndtune.pipeline import DEFAULT_STAGES, build_pipeline
from dndtune.recipe.loader import list_recipes, load_recipe
from dndtune.recipe.schema import Recipe
from dndtune.runs import RunFamily
from tui.commands import DndtuneCommands
from tui.memory_probe import sample_memory
from tui.messages import PipelineEvent, RunUpdated
from tui.run_history import load_previous_run
from tui.run_state import RunState, apply_event, apply_memory, seed_history
from tui.screen_names import SCREENS
from tui.screens.environment import EnvironmentScreen
from tui.screens.evaluate import EvaluateScreen
from tui.screens.export import ExportScreen
from tui.screens.models import ModelsScreen
from tui.screens.play import PlayScreen
from tui.screens.recipe import RecipeScreen
from tui.screens.scenarios import ScenariosScreen
from tui.screens.train import TrainScreen
from tui.settings import TuiSettings

if TYPE_CHECKING:
    from dndtune.pipeline import Stage

EnvironmentCollector = Callable[[Path], EnvReport]


def default_recipe_name(cwd: Path) -> str | None:
    """The recipe a first-time user should start from: a demo one if shipped, else the first."""
    recipes = list_recipes(cwd)
    for path in recipes:
        if path.stem.startswith("demo"):
            return path.stem
    return recipes[0].stem if recipes else None


class DndtuneApp(App[None]):
    CSS_PATH = "dndtune.tcss"
    TITLE = "dndtune"
    COMMANDS = App.COMMANDS | {DndtuneCommands}
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "environment": EnvironmentScreen,
        "scenarios": ScenariosScreen,
        "recipe": RecipeScreen,
        "train": TrainScreen,
        "export": ExportScreen,
        "evaluate": EvaluateScreen,
        "play": PlayScreen,
        "models": ModelsScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"show('{mode}')", title, show=False) for n, (mode, title) in enumerate(SCREENS, 1)),
        Binding("q", "quit", "Quit"),
    ]

    recipe: reactive[Recipe | None] = reactive(None, always_update=True)
    """The recipe the Train screen will run (chosen or edited on the Recipe screen)."""
    environment: reactive[EnvReport | None] = reactive(None, always_update=True)
    """The doctor's report on this machine; collected once in a worker."""

    def __init__(self, settings: TuiSettings, *, environment: EnvReport | None = None,
                 collect_environment: EnvironmentCollector | None = None,
                 stages: Sequence[Stage] | None = None) -> None:
        super().__init__()
        self._stages = stages
        self.settings = settings
        self.recipe_edits: tuple[str, ...] = ()
        """``--set`` overrides the Recipe screen applied on top of the recipe's file."""
        self.run_state = RunState()
        self._given_environment = environment
        self._collect_environment = collect_environment
        self._stop_event: threading.Event | None = None
        self._memory_timer: Timer | None = None
        self._exit_when_stopped = False

    # --- start-up -----------------------------------------------------------------------------

    async def on_mount(self) -> None:
        # The first screen comes first: loading the recipe below redraws whatever screen shows.
        await self.switch_mode(self.settings.start_screen)
        self.watch(self, "recipe", self._show_previous_run)
        self._load_initial_recipe()
        if self._given_environment is not None:
            self.environment = self._given_environment
        else:
            self.refresh_environment()

    def _load_initial_recipe(self) -> None:
        name = self.settings.recipe or default_recipe_name(self.settings.cwd)
        if name is None:
            return
        try:
            self.recipe = load_recipe(name, cwd=self.settings.cwd)
        except DndtuneError as exc:
            self.notify(str(exc), title="Recipe", severity="error", timeout=10)

    def _show_previous_run(self) -> None:
        """When nothing runs, show what the recipe's run folder holds (a stopped run resumes with s)."""
        recipe = self.recipe
        if recipe is None or self.run_state.active:
            return
        layout = RunFamily.under(self.output_dir(), recipe.output.run_name).latest_layout()
        if not load_previous_run(self.run_state, layout):
            self.run_state.reset()
        self.screen.post_message(RunUpdated(None))

    @work(thread=True, exclusive=True, group="environment")
    def refresh_environment(self) -> None:
        """Ask the doctor about this machine (imports torch, so never on the UI thread)."""
        collect = self._collect_environment or collect_environment
        report = collect(self.output_dir())
        self.call_from_thread(setattr, self, "environment", report)

    def output_dir(self) -> Path:
        if self.recipe is not None:
            return self.settings.cwd / self.recipe.output.dir
        return self.settings.cwd / "training-output"

    # --- navigation -----------------------------------------------------------------------------

    async def action_show(self, mode: str) -> None:
        if self.current_mode != mode:
            await self.switch_mode(mode)

    async def run_command(self, mode: str | None, action: str) -> None:
        """What a palette command does: go to its screen, then run the action there."""
        if mode is not None:
            await self.action_show(mode)
        if action:
            await self.screen.run_action(action)

    # --- the pipeline run -----------------------------------------------------------------------

    def stage_names(self) -> list[str]:
        """The stages a run started here goes through."""
        return [stage.name for stage in (self._stages if self._stages is not None else DEFAULT_STAGES)]

    def start_run(self, *, resume: bool | None = None) -> bool:
        """Run the pipeline on the current recipe in a worker thread; False when it cannot start.

        ``resume=False`` starts over: a new version trained from scratch (see ``build_pipeline``).
        """
        if self.run_state.active:
            self.notify("A run is already going.", severity="warning")
            return False
        if self.recipe is None:
            self.notify("Pick a recipe first (screen 3).", severity="error")
            return False
        self._stop_event = threading.Event()
        self.run_state.start()
        self.screen.post_message(RunUpdated(None))
        self._run_pipeline(self.recipe, self._stop_event, resume)
        if self.settings.memory_interval > 0:
            self._memory_timer = self.set_interval(self.settings.memory_interval, self._sample_memory)
        return True

    def _sample_memory(self) -> None:
        if not self.run_state.active:
            if self._memory_timer is not None:
                self._memory_timer.stop()
                self._memory_timer = None
            return
        apply_memory(self.run_state, sample_memory())
        self.screen.post_message(RunUpdated(None))

    def stop_run(self) -> bool:
        """Ask the run to stop after the current step; it saves a checkpoint and a rerun resumes."""
        if not self.run_state.active or self._stop_event is None:
            return False
        self._stop_event.set()
        self.run_state.status = "stopping"
        self.run_state.add_log("[tui] stop requested: finishing the current step, then saving a checkpoint")
        self.screen.post_message(RunUpdated(None))
        return True

    @work(thread=True, exclusive=True, group="pipeline", exit_on_error=False)
    def _run_pipeline(self, recipe: Recipe, stop_event: threading.Event, resume: bool | None = None) -> None:
        def forward(event: Event) -> None:
            # post_message is thread-safe and never waits for the UI: a step is not slowed by drawing.
            self.post_message(PipelineEvent(event))

        sink = CallbackSink(forward)
        try:
            build_pipeline(recipe, sink, stop_event=stop_event, resume=resume, stages=self._stages).run()
        except DndtuneError as exc:
            sink.emit(RunFailed(stage="tui", message=str(exc)))
        except Exception as exc:  # shown in the log pane instead of tearing the UI down
            sink.emit(RunFailed(stage="tui", message=f"{type(exc).__name__}: {exc}"))

    def on_pipeline_event(self, message: PipelineEvent) -> None:
        event = message.event
        apply_event(self.run_state, event)
        match event:
            case RunFailed():
                self.notify(event.message, title="Run failed", severity="error", timeout=15)
            case ExportDone() if self.run_state.manifest_path:
                self._read_samples(Path(self.run_state.manifest_path))
            case TrainResumed(step=step) if self.recipe is not None:
                self._seed_history(step)
        self.screen.post_message(RunUpdated(event))
        if not self.run_state.active and self._exit_when_stopped:
            self.exit()

    def _seed_history(self, step: int) -> None:
        recipe = self.recipe
        assert recipe is not None
        metrics = RunFamily.under(self.output_dir(), recipe.output.run_name).latest_layout().metrics
        try:
            lines = metrics.read_text(encoding="utf-8").splitlines()
        except OSError:
            return  # no earlier metrics: the chart starts at the checkpoint
        seed_history(self.run_state, lines, step)

    def _read_samples(self, manifest: Path) -> None:
        """The replies verification got from the exported model live in its manifest, not in events."""

        try:
            self.run_state.samples = dict(read_manifest(manifest).samples)
        except DndtuneError as exc:
            self.run_state.add_log(f"[tui] warning: {exc}")

    async def action_quit(self) -> None:
        if self.run_state.active:
            if self._exit_when_stopped:
                self.notify("Still saving the checkpoint; the app closes when it is written.")
                return
            self._exit_when_stopped = True
            self.stop_run()
            self.notify("Stopping after the current step and saving a checkpoint, then closing.",
                        title="Quit", timeout=10)
            return
        self.exit()


def make_app(settings: TuiSettings | None = None, *, environment: EnvReport | None = None,
             collect_environment: EnvironmentCollector | None = None,
             stages: Sequence[Stage] | None = None) -> DndtuneApp:
    """The one way to build the app: the CLI, the tests and the snapshot tests all call this.

    ``environment`` is a ready doctor report (tests pass a fixed one so screens are
    deterministic); without it the app collects one in a worker thread. ``stages`` replaces the
    pipeline's stage list (default: all of :data:`dndtune.pipeline.DEFAULT_STAGES`).
    """
    return DndtuneApp(settings or TuiSettings(), environment=environment,
                      collect_environment=collect_environment, stages=stages)
