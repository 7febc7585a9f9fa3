"""A play session: a person plays a scene with the exported model; the library half of ``dndtune play``.

The session keeps the conversation in the training format, generates the DM's reply, executes
any ``roll`` tool calls with real dice (:class:`~dndtune.play.dice.DiceRoller`), feeds the
results back and lets the model narrate them, then stores the player's 1-5 rating of each reply
against the model file's sha256. Replies are decoded under the roll grammar the deploy bundle
ships (:func:`~dndtune.models.grammar.roll_grammar`) where the runtime supports one, so play
feels like the app. It never touches a terminal: the CLI (``dndtune.cli.play``)
and the TUI's Play screen drive it and show what it returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from dndtune.dataset.chat import (
    OPENING_USER_MESSAGE,
    ROLL_TOOL_NAME,
    Message,
    message,
    scenario_to_messages,
    system_prompt,
    tools,
)
from dndtune.errors import DndtuneError
from dndtune.evaluate.consistency import strip_tool_blocks
from dndtune.evaluate.regression import load_cases
from dndtune.evaluate.render import TemplateRejected
from dndtune.evaluate.runner import Generation, GenerationSettings, ModelRunner
from dndtune.evaluate.toolcalls import allowed_skills, predicted_calls
from dndtune.models.grammar import roll_grammar
from dndtune.play.dice import DiceRoller
from dndtune.play.ratings import MAX_RATING, MIN_RATING, Rating, append_rating
from dndtune.scenario.models import Scenario

MAX_TOOL_ROUNDS = 3
"""Generate-roll-narrate rounds per player message; a model that keeps calling is cut off there."""
PLAY_SETTINGS = GenerationSettings(max_tokens=256, temperature=0.7, seed=0)
TOOL_BLOCK_OPENERS = ("<tool_call>", "```tool_call")
"""How a tool-call block starts in either family's format (what :func:`strip_tool_blocks` removes)."""

TextHook = Callable[[str], None]
"""Receives the DM's narration of the turn so far, tool-call blocks removed, each time it grows."""


@runtime_checkable
class StreamingRunner(Protocol):
    """A runner that can report its reply while decoding (llama.cpp); others answer in one piece."""

    def generate_stream(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                        settings: GenerationSettings, on_text: Callable[[str], None]) -> Generation: ...


def visible_narration(raw: str) -> str:
    """What a player may see of a reply still being written: tool-call blocks (even half-written) removed."""
    text = strip_tool_blocks(raw)
    for opener in TOOL_BLOCK_OPENERS:
        for cut in range(len(opener) - 1, 0, -1):
            if text.endswith(opener[:cut]):
                return text[: -cut].strip()
    return text.strip()


@dataclass(frozen=True)
class Scene:
    """Where play starts: the system prompt and any opening DM narration."""

    system: str
    opening: tuple[str, ...] = ()
    title: str = "dndtune scene"
    source: str | None = None

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Scene:
        messages = scenario_to_messages(scenario)
        opening: list[str] = []
        # A DM-first scenario starts with the player's standard opening line (see scenario_to_messages).
        start = 2 if len(messages) > 1 and messages[1]["content"] == OPENING_USER_MESSAGE else 1
        for m in messages[start:]:
            if m["role"] != "assistant":
                break
            opening.append(str(m["content"] or ""))
        return cls(system=str(messages[0]["content"]), opening=tuple(opening), title=scenario.title,
                   source=scenario.path)

    @classmethod
    def default(cls) -> Scene:
        """The regression suite's crypt scene: a party of three beneath Oakhurst chapel."""
        case = load_cases()[0]
        return cls(system=system_prompt(case.system), title="The crypt beneath Oakhurst chapel")


@dataclass(frozen=True)
class RollEvent:
    skill: str
    character: str | None
    result: dict[str, Any]


@dataclass(frozen=True)
class DmTurn:
    number: int
    """1-based index of the DM reply in this session (what ratings refer to)."""
    player: str
    text: str
    """What the DM said: narration of every round, tool-call blocks removed."""
    rolls: tuple[RollEvent, ...] = ()
    invalid_calls: int = 0
    """Tool-call blocks the app could not execute (malformed or unknown skill)."""
    finish: str = "stop"
    tokens: int = 0
    seconds: float = 0.0


@dataclass
class PlaySession:
    runner: ModelRunner
    dice: DiceRoller
    scene: Scene = field(default_factory=Scene.default)
    settings: GenerationSettings = PLAY_SETTINGS
    ratings_path: Path | None = None
    model_sha256: str | None = None
    messages: list[Message] = field(default_factory=list)
    turns: list[DmTurn] = field(default_factory=list)
    grammar: bool = True
    """Constrain replies to the roll grammar (llama.cpp runners; others ignore it)."""

    def __post_init__(self) -> None:
        if not self.messages:
            self.messages = [message("system", self.scene.system)]
            if self.scene.opening:
                # The same player line the model was trained to answer with the opening narration.
                self.messages.append(message("user", OPENING_USER_MESSAGE))
            self.messages.extend(message("assistant", text) for text in self.scene.opening)
        self._tools = tools()
        self._skills = allowed_skills(self._tools)
        self._grammar = roll_grammar(self.runner.profile, self._tools) if self.grammar else None

    def send(self, player_text: str, *, on_text: TextHook | None = None,
             on_roll: Callable[[RollEvent], None] | None = None) -> DmTurn:
        """The player's message in, the DM's (possibly multi-round) reply out.

        ``on_text`` receives the narration so far as it grows (token by token where the runner
        streams, a round at a time otherwise); ``on_roll`` each roll as soon as the dice are cast.
        Neither changes what is generated.
        """
        if not player_text.strip():
            raise DndtuneError("say something to the DM first", fix="type what your character does")
        start = len(self.messages)
        try:
            return self._send(player_text, on_text, on_roll)
        except BaseException:
            # A failed turn leaves no trace: the player's line is not kept, so the next one is not refused too.
            del self.messages[start:]
            raise

    def _send(self, player_text: str, on_text: TextHook | None,
              on_roll: Callable[[RollEvent], None] | None) -> DmTurn:
        self.messages.append(message("user", player_text.strip()))
        narration: list[str] = []
        rolls: list[RollEvent] = []
        invalid = tokens = 0
        seconds = 0.0
        finish = "stop"
        # One round more than the rolls allowed: a DM still asking for a roll after MAX_TOOL_ROUNDS gets a
        # last round whose calls are not resolved, so the turn ends on the DM's words, never on a tool
        # result (chat templates such as Gemma's refuse a player line right after one).
        for round_index in range(MAX_TOOL_ROUNDS + 1):
            last = round_index == MAX_TOOL_ROUNDS
            settings = replace(self.settings, grammar=self._grammar,
                               seed=self.settings.seed + len(self.turns) * (MAX_TOOL_ROUNDS + 1) + round_index)
            generation = self._generate(settings, narration, on_text)
            tokens += generation.tokens
            seconds += generation.seconds
            finish = generation.finish
            text = strip_tool_blocks(generation.text).strip()
            calls = predicted_calls(generation.text, self.runner.profile, self._skills)
            valid = [c for c in calls if c.valid and c.skill is not None]
            invalid += generation.text.count(self.runner.profile.tool_format.call_open.strip()) - len(valid)
            if last:
                valid = []
            if text:
                narration.append(text)
            tool_calls = [{"type": "function", "function": {"name": ROLL_TOOL_NAME,
                                                            "arguments": {"skill": c.skill, "character": c.character}}}
                          for c in valid]
            self.messages.append(message("assistant", text, tool_calls=tool_calls or None))
            if not valid:
                break
            for call in valid:
                assert call.skill is not None
                result = self.dice.roll(call.skill, call.character)
                rolls.append(RollEvent(skill=call.skill, character=call.character, result=result))
                if on_roll is not None:
                    on_roll(rolls[-1])
                self.messages.append(message("tool", _json(result), name=ROLL_TOOL_NAME))
        turn = DmTurn(number=len(self.turns) + 1, player=player_text.strip(), text="\n\n".join(narration),
                      rolls=tuple(rolls), invalid_calls=max(0, invalid), finish=finish, tokens=tokens,
                      seconds=seconds)
        self.turns.append(turn)
        return turn

    def _generate(self, settings: GenerationSettings, narration: list[str], on_text: TextHook | None) -> Generation:
        if on_text is None:
            return self.runner.generate(self._prompt(), self._tools, settings)

        def show(raw: str) -> None:
            on_text("\n\n".join([*narration, visible] if (visible := visible_narration(raw)) else narration))

        if isinstance(self.runner, StreamingRunner):
            generation = self.runner.generate_stream(self._prompt(), self._tools, settings, show)
        else:
            generation = self.runner.generate(self._prompt(), self._tools, settings)
        show(generation.text)
        return generation

    def _prompt(self) -> list[Message]:
        """The conversation; opening narration is dropped for templates that want a user turn first."""
        # Runners that render themselves (the Cactus engine) have no renderer to ask beforehand.
        renderer = getattr(self.runner, "renderer", None)
        if renderer is None:
            return self.messages
        try:
            renderer.render(self.messages, self._tools, add_generation_prompt=True)
            return self.messages
        except TemplateRejected:
            first_user = next(i for i, m in enumerate(self.messages) if m["role"] == "user")
            return [self.messages[0], *self.messages[first_user:]]

    def rate(self, number: int, score: int, note: str = "") -> Rating:
        """Store the player's rating of DM reply ``number`` for this model file."""
        if not MIN_RATING <= score <= MAX_RATING:
            raise DndtuneError(f"a rating is {MIN_RATING} to {MAX_RATING}, not {score}",
                               fix="rate 1 (bad) to 5 (great)")
        turn = next((t for t in self.turns if t.number == number), None)
        if turn is None:
            raise DndtuneError(f"there is no DM reply {number} to rate", fix=f"rate 1..{len(self.turns)}")
        rating = Rating(model=self.runner.info.label, sha256=self.model_sha256, scenario=self.scene.source,
                        turn=number, rating=score, note=note.strip(), player=turn.player, reply=turn.text)
        if self.ratings_path is not None:
            append_rating(self.ratings_path, rating)
        return rating


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)
