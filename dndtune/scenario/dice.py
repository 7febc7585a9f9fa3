"""Dice arithmetic for TOOLCALL results: parse ``NdM+K``, roll, and judge DC/AC outcomes."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dndtune.scenario.models import Outcome

DICE_RE = re.compile(r"^\s*(\d*)\s*[dD]\s*(\d+)\s*(?:([+-])\s*(\d+))?\s*$")
MAX_DICE = 100
MAX_SIDES = 1000


@dataclass(frozen=True)
class DiceExpr:
    count: int
    sides: int
    modifier: int

    def __str__(self) -> str:
        mod = f"{self.modifier:+d}" if self.modifier else ""
        return f"{self.count}d{self.sides}{mod}"

    @property
    def minimum(self) -> int:
        return self.count + self.modifier

    @property
    def maximum(self) -> int:
        return self.count * self.sides + self.modifier


def parse_dice(text: str) -> DiceExpr | None:
    """``1d20+5`` / ``d20`` / ``2d6 - 1`` -> DiceExpr; anything else -> None."""
    m = DICE_RE.match(text)
    if not m:
        return None
    count = int(m.group(1)) if m.group(1) else 1
    sides = int(m.group(2))
    modifier = int(m.group(4)) if m.group(4) else 0
    if m.group(3) == "-":
        modifier = -modifier
    if not (1 <= count <= MAX_DICE) or not (2 <= sides <= MAX_SIDES):
        return None
    return DiceExpr(count, sides, modifier)


def roll_dice(count: int, sides: int, rng: random.Random) -> list[int]:
    return [rng.randint(1, sides) for _ in range(count)]


def outcome_for(total: int, target_value: int) -> Outcome:
    """5e rule: meeting the DC (or AC) succeeds."""
    return Outcome.SUCCESS if total >= target_value else Outcome.FAILURE
