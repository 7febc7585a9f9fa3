"""Small held-out conversations in the dataset stage's format, for eval.jsonl files in tests."""

from __future__ import annotations

import json
from typing import Any

from dndtune.dataset.chat import message, tools

SYSTEM = ("Role: Dungeon Master. Narrate vividly, keep rulings fair, ask for rolls with the roll tool.\n"
          "World: The Sword Coast\nLocation: The ruined crypt beneath Oakhurst chapel\nParty:\n"
          "- Mira Vale | Half-Elf Rogue 3 | HP 18/18\n- Borin Stonefist | Dwarf Fighter 3 | HP 31/31")
PERCEPTION_RESULT = {"skill": "perception", "character": "Mira", "dice": "1d20+3", "rolls": [14], "modifier": 3,
                     "total": 17, "dc": 13, "outcome": "success"}


def call(skill: str, character: str | None) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "roll", "arguments": {"skill": skill, "character": character}}}


def roll_conversation() -> list[dict[str, Any]]:
    return [
        message("system", SYSTEM),
        message("user", "Mira listens at the iron door."),
        message("assistant", "Mira presses her ear to the cold iron.", tool_calls=[call("perception", "Mira")]),
        message("tool", json.dumps(PERCEPTION_RESULT), name="roll"),
        message("assistant", "She notices the scrape of bones beyond the door: two skeletons, waiting."),
        message("user", "Borin asks what we should do."),
        message("assistant", "Borin grips his warhammer. What do you do?"),
    ]


def quiet_conversation() -> list[dict[str, Any]]:
    return [
        message("system", SYSTEM),
        message("user", "We walk back up to the chapel."),
        message("assistant", "Grey light falls through the broken windows of Oakhurst chapel. The pews are empty."),
    ]


def eval_jsonl_lines() -> list[str]:
    return [json.dumps({"messages": m, "tools": tools()}) for m in (roll_conversation(), quiet_conversation())]
