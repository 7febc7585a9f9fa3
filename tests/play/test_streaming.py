"""The Play screen's hooks on PlaySession: narration as it grows, rolls as they are cast; nothing else changes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.evaluate.runner import Generation, GenerationSettings
from dndtune.play.dice import DiceRoller
from dndtune.play.session import PlaySession, RollEvent, visible_narration
from tests.evaluate.scripted import ScriptedRunner, qwen_call


def dm(messages: Sequence[Message]) -> str:
    last = messages[-1]
    if last["role"] == "tool":
        return f"You rolled {json.loads(str(last['content']))['total']}. The guard never looks up."
    return "Keep to the shadows." + qwen_call("stealth", "Mira")


class StreamingScripted(ScriptedRunner):
    """Reports the reply a few characters at a time, as llama.cpp does token by token."""

    def generate_stream(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                        settings: GenerationSettings, on_text: Callable[[str], None] | None) -> Generation:
        generation = self.generate(messages, tools, settings)
        for end in range(4, len(generation.text) + 1, 4):
            if on_text is not None:
                on_text(generation.text[:end])
        return generation


def test_visible_narration_hides_tool_blocks_even_half_written() -> None:
    assert visible_narration("Keep low.<tool_call>\n{\"name\": \"ro") == "Keep low."
    assert visible_narration("Keep low.<tool") == "Keep low."
    assert visible_narration("Keep low.```tool_ca") == "Keep low."
    assert visible_narration("Keep low. <b>") == "Keep low. <b>"


def test_hooks_see_the_narration_grow_and_the_roll_between() -> None:
    seen: list[str] = []
    rolls: list[RollEvent] = []
    session = PlaySession(runner=StreamingScripted(dm), dice=DiceRoller(random.Random(7)))
    turn = session.send("Mira sneaks past.", on_text=seen.append, on_roll=rolls.append)
    assert rolls == list(turn.rolls)
    assert seen[-1] == turn.text
    assert all("tool_call" not in s and "<" not in s for s in seen)
    assert all(turn.text.startswith(s) for s in seen)  # it only grows
    assert len(seen) > 5


def test_hooks_change_nothing_that_is_generated() -> None:
    plain = PlaySession(runner=ScriptedRunner(dm), dice=DiceRoller(random.Random(3)))
    hooked = PlaySession(runner=StreamingScripted(dm), dice=DiceRoller(random.Random(3)))
    a = plain.send("Mira sneaks past.")
    b = hooked.send("Mira sneaks past.", on_text=lambda _: None, on_roll=lambda _: None)
    assert (a.text, a.rolls, a.tokens) == (b.text, b.rolls, b.tokens)
    assert plain.messages == hooked.messages
