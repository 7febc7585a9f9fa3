"""Expected vs generated ``roll`` tool calls: detection precision/recall, exact skill, JSON validity.

Definitions (per DM turn, then summed over the evaluation set):

- A turn *should call* when its reference message has tool calls; the model *called* when its
  text opens at least one tool-call block of its family's format (``<tool_call>`` for Qwen,
  a ```` ```tool_call ```` fence for Gemma), whether or not the block is usable.
- **precision** = turns that called and should / turns that called; **recall** = turns that
  called and should / turns that should; **false_call_rate** = turns that called but should
  not / turns that should not.
- **json_validity** = blocks the app would accept / blocks opened. Accepted means: the model
  profile's ``parse_tool_calls`` (the parser the app mirrors) reads it, the name is ``roll``,
  ``skill`` is one of the tool schema's enum values, ``character`` (when present) is a string
  or null, and no other argument appears.
- **exact_skill** = expected calls matched by a generated call with exactly the same skill /
  expected calls (each generated call matches at most one expected call).
- **character_accuracy** = matched calls whose character agrees (case-insensitive; a first
  name matches the full name) / matched calls whose reference names a character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from dndtune.evaluate.examples import ExpectedCall
from dndtune.models.profiles import ModelProfile

ROLL = "roll"


@dataclass(frozen=True)
class PredictedCall:
    name: str
    skill: str | None
    character: str | None
    valid: bool
    """Accepted by the app: right tool name, a schema skill, well-typed arguments."""


@dataclass(frozen=True)
class CallCheck:
    """One DM turn's tool-call outcome."""

    expected: tuple[ExpectedCall, ...]
    predicted: tuple[PredictedCall, ...]
    attempted: int
    """Tool-call blocks the text opens (complete or not)."""
    skill_matches: int
    character_matches: int
    character_expected: int
    """Matched calls whose reference names a character (the denominator of character accuracy)."""

    @property
    def should_call(self) -> bool:
        return bool(self.expected)

    @property
    def called(self) -> bool:
        return self.attempted > 0

    @property
    def valid(self) -> int:
        return sum(1 for p in self.predicted if p.valid)

    @property
    def exact(self) -> bool:
        """Every expected call matched and nothing extra: the turn is right as a whole."""
        return (self.skill_matches == len(self.expected) == len(self.predicted) == self.valid
                and self.attempted == len(self.predicted))


class ToolCallScores(BaseModel):
    turns: int = 0
    should_call: int = 0
    called: int = 0
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0
    calls_expected: int = 0
    calls_attempted: int = 0
    calls_valid: int = 0
    skill_matches: int = 0
    character_expected: int = 0
    character_matches: int = 0
    exact_turns: int = 0
    precision: float | None = None
    recall: float | None = None
    false_call_rate: float | None = None
    exact_skill: float | None = None
    character_accuracy: float | None = None
    json_validity: float | None = None
    turn_accuracy: float | None = None
    """Turns where the whole set of calls (or their absence) is right."""


def allowed_skills(tools: Sequence[dict[str, Any]]) -> frozenset[str]:
    """The ``skill`` enum of the ``roll`` tool in a tools list (empty: any string is accepted)."""
    for tool in tools:
        function = tool.get("function", tool)
        if function.get("name") != ROLL:
            continue
        skill = function.get("parameters", {}).get("properties", {}).get("skill", {})
        return frozenset(str(s) for s in skill.get("enum", ()))
    return frozenset()


def opened_blocks(text: str, profile: ModelProfile) -> int:
    """How many tool-call blocks the text opens (a cut-off block still counts as an attempt)."""
    marker = profile.tool_format.call_open.strip()
    return text.count(marker)


def predicted_calls(text: str, profile: ModelProfile, skills: frozenset[str]) -> list[PredictedCall]:
    calls: list[PredictedCall] = []
    for call in profile.parse_tool_calls(text):
        args = call["arguments"]
        skill = args.get("skill")
        character = args.get("character")
        valid = (
            call["name"] == ROLL
            and isinstance(skill, str)
            and (not skills or skill in skills)
            and (character is None or isinstance(character, str))
            and set(args) <= {"skill", "character"}
        )
        calls.append(PredictedCall(name=call["name"], skill=skill if isinstance(skill, str) else None,
                                   character=character if isinstance(character, str) else None, valid=valid))
    return calls


def same_character(expected: str, predicted: str | None) -> bool:
    if predicted is None:
        return False
    a, b = expected.strip().lower(), predicted.strip().lower()
    if not a or not b:
        return False
    return a == b or a.split()[0] == b.split()[0]


def check_turn(text: str, expected: Sequence[ExpectedCall], profile: ModelProfile,
               tools: Sequence[dict[str, Any]]) -> CallCheck:
    predicted = predicted_calls(text, profile, allowed_skills(tools))
    unused = [p for p in predicted if p.name == ROLL and p.skill is not None]
    skill_matches = character_matches = character_expected = 0
    for want in expected:
        # Prefer a call that also names the right character, so two rolls of one skill by
        # different characters pair up correctly.
        candidates = [p for p in unused if p.skill == want.skill]
        if not candidates:
            continue
        best = next((p for p in candidates if want.character and same_character(want.character, p.character)),
                    candidates[0])
        unused.remove(best)
        skill_matches += 1
        if want.character:
            character_expected += 1
            character_matches += same_character(want.character, best.character)
    return CallCheck(expected=tuple(expected), predicted=tuple(predicted), attempted=opened_blocks(text, profile),
                     skill_matches=skill_matches, character_matches=character_matches,
                     character_expected=character_expected)


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def summarize(checks: Iterable[CallCheck]) -> ToolCallScores:
    s = ToolCallScores()
    for c in checks:
        s.turns += 1
        s.should_call += c.should_call
        s.called += c.called
        s.true_positive += c.should_call and c.called
        s.false_positive += c.called and not c.should_call
        s.false_negative += c.should_call and not c.called
        s.true_negative += not c.should_call and not c.called
        s.calls_expected += len(c.expected)
        s.calls_attempted += c.attempted
        s.calls_valid += c.valid
        s.skill_matches += c.skill_matches
        s.character_expected += c.character_expected
        s.character_matches += c.character_matches
        s.exact_turns += c.exact
    s.precision = ratio(s.true_positive, s.true_positive + s.false_positive)
    s.recall = ratio(s.true_positive, s.should_call)
    s.false_call_rate = ratio(s.false_positive, s.turns - s.should_call)
    s.exact_skill = ratio(s.skill_matches, s.calls_expected)
    s.character_accuracy = ratio(s.character_matches, s.character_expected)
    s.json_validity = ratio(s.calls_valid, s.calls_attempted)
    s.turn_accuracy = ratio(s.exact_turns, s.turns)
    return s
