"""The ``roll`` tool at play time: real dice from a seeded ``random.Random``.

The model's call names a skill and a character; the tool picks the dice (a d20 for checks,
saves, attacks and initiative, the damage die for damage), adds the character's modifier when
the player gave one, judges success against a DC/AC when one is known, and answers with the
same JSON the model saw in training (``skill``, ``character``, ``dice``, ``rolls``, ``modifier``,
``total`` and, with a target, ``dc``/``ac`` and ``outcome``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dndtune.scenario.dice import DiceExpr, outcome_for, roll_dice
from dndtune.scenario.models import Outcome

D20 = DiceExpr(1, 20, 0)
DEFAULT_DAMAGE = DiceExpr(1, 8, 0)
"""Damage die when the player set none: a longsword or a mace, the most common level-1 weapons."""

TargetLookup = Callable[[str, str | None], tuple[str, int] | None]
"""(skill, character) -> ("DC" | "AC", value), or None when no target applies."""


def modifier_key(skill: str, character: str | None) -> str:
    return f"{(character or '').split(' ')[0].lower()}:{skill.lower()}"


@dataclass
class DiceRoller:
    rng: random.Random
    modifiers: Mapping[str, int] = field(default_factory=dict)
    """``"mira:stealth" -> 5`` (first name, skill) or ``":stealth" -> 2`` for anyone."""
    damage: DiceExpr = DEFAULT_DAMAGE
    target: TargetLookup | None = None

    def modifier(self, skill: str, character: str | None) -> int:
        return self.modifiers.get(modifier_key(skill, character), self.modifiers.get(modifier_key(skill, None), 0))

    def roll(self, skill: str, character: str | None) -> dict[str, Any]:
        base = self.damage if skill == "damage" else D20
        modifier = self.modifier(skill, character)
        faces = roll_dice(base.count, base.sides, self.rng)
        total = sum(faces) + base.modifier + modifier
        result: dict[str, Any] = {"skill": skill}
        if character:
            result["character"] = character
        expr = DiceExpr(base.count, base.sides, base.modifier + modifier)
        result.update({"dice": str(expr), "rolls": faces, "modifier": expr.modifier, "total": total})
        target = self.target(skill, character) if self.target is not None and skill != "damage" else None
        if target is not None:
            kind, value = target
            outcome = outcome_for(total, value)
            result[kind.lower()] = value
            if kind == "AC":
                result["outcome"] = "hit" if outcome is Outcome.SUCCESS else "miss"
            else:
                result["outcome"] = outcome.value
        return result
