"""Scenario -> chat messages with native tool calls to a ``roll`` tool.

The message dicts are shaped for Arrow as much as for chat templates: every message has the same
keys (``role``, ``content``, ``name``, ``tool_calls``) and every tool call the same arguments
(``skill``, ``character``), with ``None`` where a value is absent. A ``datasets.Dataset`` infers
one schema for all rows that way, and what a trainer reads back equals what was written.
"""

from __future__ import annotations

import json
from typing import Any

from dndtune.scenario.lines import MARKER_RE, format_character, strip_markers
from dndtune.scenario.models import Outcome, RollRequest, RollResult, Scenario, SystemContext, TurnRole
from dndtune.scenario.skills import SKILLS

ROLL_TOOL_NAME = "roll"

Message = dict[str, Any]


def roll_tool() -> dict[str, Any]:
    """The ``roll`` tool in OpenAI function format (what ``tools=`` of a chat template takes).

    Every token here is repeated in every training window and every prompt at play time, so the
    wording is as short as the model needs: the skill enum carries the meaning (and is what the
    grammar and the validity check read), the descriptions only say what a call is for.
    """
    return {
        "type": "function",
        "function": {
            "name": ROLL_TOOL_NAME,
            "description": "Roll dice when an action's outcome is uncertain; narrate the result it returns.",
            "parameters": {
                "type": "object",
                "properties": {
                    "skill": {"type": "string", "enum": list(SKILLS)},
                    "character": {"type": "string", "description": "who rolls"},
                },
                "required": ["skill"],
            },
        },
    }


def tools() -> list[dict[str, Any]]:
    """The ``tools`` list stored with every example (one tool, the same for all rows)."""
    return [roll_tool()]


def message(role: str, content: str, *, name: str | None = None,
            tool_calls: list[dict[str, Any]] | None = None) -> Message:
    return {"role": role, "content": content, "name": name, "tool_calls": tool_calls}


def system_prompt(system: SystemContext) -> str:
    """The SYSTEM section as the model sees it at train and at play time.

    Lines keep the author's ``Key: value`` shape. Marker syntax in the role (``ask for rolls
    with [roll: skill]``) is reworded to the tool, since the model never writes markers.
    """
    lines: list[str] = []
    if system.role:
        lines.append(f"Role: {MARKER_RE.sub('the roll tool', system.role)}")
    if system.world:
        lines.append(f"World: {system.world}")
    if system.location:
        lines.append(f"Location: {system.location}")
    lines.extend(system.notes)
    if system.party:
        lines.append("Party:")
        lines.extend(f"- {format_character(c)}" for c in system.party)
    return "\n".join(lines)


def tool_call(request: RollRequest, result: RollResult | None) -> dict[str, Any]:
    """One call of the roll tool for a ``[roll: ...]`` marker.

    A marker without a character takes the one its result line names: the tool needs to know
    whose modifier applies, and the model should learn to say so.
    """
    character = request.character or (result.character if result is not None else None)
    return {
        "type": "function",
        "function": {"name": ROLL_TOOL_NAME, "arguments": {"skill": request.skill, "character": character}},
    }


def tool_result(result: RollResult) -> str:
    """A TOOLCALL line as the tool's JSON answer; keys absent from the line are left out."""
    payload: dict[str, Any] = {"skill": result.skill}
    if result.character:
        payload["character"] = result.character
    payload["dice"] = result.expression
    payload["rolls"] = list(result.faces)
    payload["modifier"] = result.modifier
    payload["total"] = result.total
    if result.target_kind is not None and result.target_value is not None:
        payload[result.target_kind.lower()] = result.target_value
        if result.outcome is not None:
            payload["outcome"] = _outcome_word(result.target_kind, result.outcome)
    return json.dumps(payload, ensure_ascii=False)


def _outcome_word(target_kind: str, outcome: Outcome) -> str:
    # Attacks read as hit/miss, the words the DM narrates with (and the TOOLCALL line uses).
    if target_kind == "AC":
        return "hit" if outcome is Outcome.SUCCESS else "miss"
    return outcome.value


OPENING_USER_MESSAGE = "Let's begin."
"""What the player says when a scenario opens with the DM's narration.

Chat templates (Gemma's among them) require a user turn before the first model turn, and an
app starts a session the same way: it sends this line and the model narrates the opening.
"""


def scenario_to_messages(scenario: Scenario) -> list[Message]:
    """System prompt, then the turns: User -> user, DM -> assistant (+ tool calls), TOOLCALL -> tool."""
    messages = [message("system", system_prompt(scenario.system))]
    turns = scenario.turns
    if turns and turns[0].role is TurnRole.DM:
        messages.append(message("user", OPENING_USER_MESSAGE))
    for index, turn in enumerate(turns):
        if turn.role is TurnRole.USER:
            messages.append(message("user", turn.text.strip()))
        elif turn.role is TurnRole.DM:
            following = turns[index + 1] if index + 1 < len(turns) else None
            results: tuple[RollResult, ...] = (
                following.results if following is not None and following.role is TurnRole.TOOLCALL else ()
            )
            calls = [tool_call(req, results[i] if i < len(results) else None) for i, req in enumerate(turn.rolls)]
            messages.append(message("assistant", strip_markers(turn.text), tool_calls=calls or None))
        else:
            messages.extend(message("tool", tool_result(r), name=ROLL_TOOL_NAME) for r in turn.results)
    return messages


def count_tool_calls(messages: list[Message]) -> int:
    return sum(len(m["tool_calls"] or ()) for m in messages)
