"""Play: chat with an exported model through :class:`dndtune.play.PlaySession`, as ``dndtune play`` does.

Real dice answer each ``roll`` call (the result is shown as a dice line), the DM's narration streams in
as it is generated, and a reply is rated by typing 1-5 (and an optional note) after it: the rating goes
to the same ``ratings.jsonl`` ``dndtune play`` writes, against the model file's sha256. Loading the model
and generating run in worker threads.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Select, Static

from dndtune.errors import DndtuneError
from dndtune.evaluate.open_model import open_runner
from dndtune.evaluate.runner import GenerationSettings, ModelRunner
from dndtune.evaluate.targets import resolve_target
from dndtune.events import NullSink
from dndtune.hashing import sha256_file
from dndtune.play.dice import DiceRoller
from dndtune.play.ratings import ratings_path_for
from dndtune.play.session import DmTurn, PlaySession, RollEvent, Scene
from dndtune.registry import ModelVersion
from dndtune.scenario.loader import load_scenarios
from tui.screens.base import DndtuneScreen
from tui.widgets.models.versions import read_versions
from tui.widgets.play.chat_log import ChatLog, DmReply

RunnerOpener = Callable[..., ModelRunner]
open_model: RunnerOpener = open_runner
"""How a model file is opened; tests put a scripted runner here."""
DICE_SEED: int | None = None
"""Dice and sampling seed; None draws one per session as ``dndtune play`` does (tests fix it)."""
DEFAULT_SCENE = "__default__"
RATING = re.compile(r"^/?(?:rate\s+)?([1-5])(?:\s+(.*))?$")
HELP = "Enter sends · 1-5 [note] rates the last reply · Esc, then 1-8: other screens"


@dataclass(frozen=True)
class SceneChoice:
    key: str
    title: str
    scene: Scene


def scene_choices(scenarios_dir: Path) -> list[SceneChoice]:
    """The regression suite's crypt scene, then every valid scenario under ``scenarios_dir``."""
    choices = [SceneChoice(DEFAULT_SCENE, Scene.default().title, Scene.default())]
    if scenarios_dir.is_dir():
        loaded = load_scenarios(scenarios_dir, NullSink())
        for scenario in sorted(loaded.scenarios, key=lambda s: s.path):
            choices.append(SceneChoice(scenario.path, scenario.title, Scene.from_scenario(scenario)))
    return choices


def _short(title: str, width: int = 30) -> str:
    """A scene title that fits its half of the top row on one line."""
    return title if len(title) <= width else title[: width - 1].rstrip() + "…"


def open_session(version: ModelVersion, scene: Scene, seed: int) -> PlaySession:
    """A session set up the way ``dndtune play RUN`` sets one up with its default options."""
    target = resolve_target(version.run.root)
    runner = open_model(target.model, label=target.label)
    return PlaySession(
        runner=runner, scene=scene, dice=DiceRoller(random.Random(seed)),
        settings=GenerationSettings(max_tokens=256, temperature=0.7, seed=seed),
        ratings_path=ratings_path_for(target.model, target.run.root if target.run else None),
        model_sha256=sha256_file(target.model) if target.model.is_file() else None,
    )


class PlayLoaded(Message):
    def __init__(self, session: PlaySession | None, error: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.error = error


class PlayChoices(Message):
    def __init__(self, models: list[ModelVersion], default_model: str | None, scenes: list[SceneChoice]) -> None:
        super().__init__()
        self.models = models
        self.default_model = default_model
        self.scenes = scenes


class PlayText(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PlayRoll(Message):
    def __init__(self, roll: RollEvent) -> None:
        super().__init__()
        self.roll = roll


class PlayTurn(Message):
    def __init__(self, turn: DmTurn | None, error: str | None = None) -> None:
        super().__init__()
        self.turn = turn
        self.error = error


class PlayScreen(DndtuneScreen):
    MODE = "play"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "restart", "Restart scene"),
        Binding("ctrl+l", "focus_input", "Type", show=False),
        Binding("escape", "leave_input", "Leave input (then 1-8)", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session: PlaySession | None = None
        self.models: list[ModelVersion] = []
        self.scenes: list[SceneChoice] = []
        self.busy = False
        self.seed = 0
        self._reply: DmReply | None = None
        self._unrated: DmReply | None = None
        self._ready = False

    def compose(self) -> ComposeResult:
        yield from self.compose_nav()
        with Horizontal(id="play-top"):
            yield Select[str]([], id="play-model", prompt="model", allow_blank=True)
            yield Select[str]([], id="play-scene", prompt="scene", allow_blank=True)
        yield ChatLog(id="play-chat")
        yield Static(id="play-status")
        yield Input(id="play-input", placeholder="What does your party do?")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#play-chat").border_title = "play"
        self._status("Loading the model list and the scenarios…")
        self._load_choices(self.dndtune.output_dir(), self.dndtune.settings.scenarios_dir)

    def on_unmount(self) -> None:
        self._close()

    # --- choosing what to play ----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="play-choices", exit_on_error=False)
    def _load_choices(self, root: Path, scenarios_dir: Path) -> None:
        try:
            versions = read_versions(root)
        except DndtuneError as exc:
            self.post_message(PlayLoaded(None, str(exc)))
            return
        playable = [v for v in versions.versions if v.gguf is not None]
        promoted = versions.promoted
        default = promoted if promoted is not None and promoted.gguf is not None else versions.latest(with_gguf=True)
        self.post_message(PlayChoices(playable, default.name if default else None, scene_choices(scenarios_dir)))

    def on_play_choices(self, message: PlayChoices) -> None:
        self.models, self.scenes = message.models, message.scenes
        models = self.query_one("#play-model", Select)
        models.set_options([(f"{v.name}{' (promoted)' if v.promoted else ''}", v.name) for v in self.models])
        scenes = self.query_one("#play-scene", Select)
        scenes.set_options([(_short(c.title), c.key) for c in self.scenes])
        if message.default_model is None:
            self._status(f"No exported model in {self.dndtune.output_dir() / 'runs'}: train and export one first "
                         "(screen 4).", "bold red")
            return
        with self.prevent(Select.Changed):
            models.value = message.default_model
            scenes.value = DEFAULT_SCENE
        self._ready = True
        self.action_restart()

    def on_select_changed(self, event: Select.Changed) -> None:
        if self._ready:
            self.action_restart()

    def _chosen(self) -> tuple[ModelVersion | None, SceneChoice | None]:
        model_value = self.query_one("#play-model", Select).value
        scene_value = self.query_one("#play-scene", Select).value
        version = next((v for v in self.models if v.name == model_value), None)
        scene = next((c for c in self.scenes if c.key == scene_value), None)
        return version, scene

    def action_restart(self) -> None:
        """Start the chosen scene again with the chosen model (a new session, new dice)."""
        if self.busy:
            self.notify("The DM is still answering.", severity="warning")
            return
        version, choice = self._chosen()
        if version is None or choice is None:
            self.notify("Pick a model and a scene first.", severity="warning")
            return
        self._close()
        self.seed = DICE_SEED if DICE_SEED is not None else random.SystemRandom().randrange(2**31)
        log = self.query_one(ChatLog)
        log.clear_log()
        log.add_note(f"== {choice.scene.title} ==  model {version.name}, dice seed {self.seed}", "bold")
        self._unrated = None
        self.busy = True
        self._status(f"Loading {version.name}…", "yellow")
        self._open(version, choice.scene, self.seed)

    @work(thread=True, exclusive=True, group="play-model", exit_on_error=False)
    def _open(self, version: ModelVersion, scene: Scene, seed: int) -> None:
        try:
            self.post_message(PlayLoaded(open_session(version, scene, seed)))
        except DndtuneError as exc:
            self.post_message(PlayLoaded(None, str(exc)))
        except Exception as exc:
            self.post_message(PlayLoaded(None, f"{type(exc).__name__}: {exc}"))

    def on_play_loaded(self, message: PlayLoaded) -> None:
        self.busy = False
        if message.session is None:
            self._status(message.error or "could not load the model", "bold red")
            self.notify(message.error or "could not load the model", title="Play", severity="error", timeout=15)
            return
        self.session = message.session
        log = self.query_one(ChatLog)
        for text in self.session.scene.opening:
            log.add_opening(text)
        self._status(HELP)
        self.action_focus_input()

    def _close(self) -> None:
        if self.session is not None:
            self.session.runner.close()
            self.session = None

    # --- playing ---------------------------------------------------------------------------------

    def action_focus_input(self) -> None:
        self.query_one("#play-input", Input).focus()

    def action_leave_input(self) -> None:
        """Number keys switch screens again once the input has no focus."""
        self.query_one(ChatLog).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if not text:
            return
        if text in ("/restart", "/new"):
            self.action_restart()
            return
        if text == "/help":
            self._status(HELP)
            return
        rating = RATING.match(text)
        if rating is not None and (self._unrated is not None or text.startswith("/")):
            self._rate(int(rating.group(1)), rating.group(2) or "")
            return
        self.send(text)

    def send(self, text: str) -> bool:
        """The player's line to the DM; False when no model is ready or the DM is still answering."""
        if self.session is None or self.busy:
            self.notify("The DM is still answering." if self.busy else "No model loaded yet.", severity="warning")
            return False
        log = self.query_one(ChatLog)
        log.add_player(text)
        self._reply = log.start_reply()
        self._unrated = None
        self.busy = True
        self._status("The DM is thinking…", "yellow")
        self._generate(self.session, text)
        return True

    @work(thread=True, exclusive=True, group="play-turn", exit_on_error=False)
    def _generate(self, session: PlaySession, text: str) -> None:
        try:
            def on_text(narration: str) -> None:
                self.post_message(PlayText(narration))

            def on_roll(roll: RollEvent) -> None:
                self.post_message(PlayRoll(roll))

            turn = session.send(text, on_text=on_text, on_roll=on_roll)
        except DndtuneError as exc:
            self.post_message(PlayTurn(None, str(exc)))
        except Exception as exc:
            self.post_message(PlayTurn(None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(PlayTurn(turn))

    def on_play_text(self, message: PlayText) -> None:
        if self._reply is not None:
            self._reply.set_narration(message.text)
            self.query_one(ChatLog).scroll_end(animate=False)

    def on_play_roll(self, message: PlayRoll) -> None:
        if self._reply is not None:
            self._reply.add_roll(message.roll)
            self.query_one(ChatLog).scroll_end(animate=False)

    def on_play_turn(self, message: PlayTurn) -> None:
        self.busy = False
        reply, self._reply = self._reply, None
        if message.turn is None:
            if reply is not None:
                reply.remove()
            self._status(message.error or "generation failed", "bold red")
            self.notify(message.error or "generation failed", title="Play", severity="error", timeout=15)
            return
        if reply is not None:
            reply.finish(message.turn)
        self._unrated = reply
        self.query_one(ChatLog).scroll_end(animate=False)
        speed = (f" · {message.turn.tokens} tokens in {message.turn.seconds:.1f}s"
                 if message.turn.seconds > 0 else "")
        self._status(f"Rate this reply: type 1-5 (and a note), or keep playing{speed}")

    def _rate(self, score: int, note: str) -> None:
        session, reply = self.session, self._unrated
        if session is None or reply is None or reply.turn is None:
            self.notify("No DM reply to rate yet.", severity="warning")
            return
        try:
            session.rate(reply.turn.number, score, note)
        except DndtuneError as exc:
            self.notify(str(exc), title="Rating", severity="error")
            return
        reply.rate(score)
        self._unrated = None
        path = session.ratings_path
        where = f" to {path.parent.name}/{path.name}" if path is not None else ""
        self._status(f"Rated reply {reply.turn.number}: {score}/5, saved{where}")

    def _status(self, text: str, style: str = "dim") -> None:
        self.query_one("#play-status", Static).update(Text(text, style=style, overflow="ellipsis", no_wrap=True))

    @property
    def transcript(self) -> list[Any]:
        """The session's turns (tests and the slow check read them)."""
        return list(self.session.turns) if self.session is not None else []
