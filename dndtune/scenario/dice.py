"""Dice arithmetic for TOOLCALL results: parse ``NdM+K``, roll, and judge DC/AC outcomes."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dndtune.scenario.limits import DICE_LIMITS, MAX_DICE, MAX_MODIFIER, MAX_SIDES, MIN_SIDES, clip, show_number, to_int
from dndtune.scenario.models import Outcome

# Possessive quantifiers: nothing here ever needs to give characters back, and without them a
# long run of spaces before a stray character backtracks in quadratic time.
DICE_RE = re.compile(r"^\s*+(\d*+)\s*+[dD]\s*+(\d++)\s*+(?:([+-])\s*+(\d++))?\s*+$")


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


def read_dice(text: str) -> tuple[DiceExpr | None, str | None]:
    """``1d20+5`` / ``d20`` / ``2d6 - 1`` -> (DiceExpr, None); otherwise (None, why, naming the limits)."""
    m = DICE_RE.match(text)
    shown = clip(text, 30)
    if not m:
        return None, f"'{shown}' is not a dice expression (write NdM+K, e.g. 1d20+3 or 2d6; {DICE_LIMITS})"
    count = to_int(m.group(1)) if m.group(1) else 1
    sides = to_int(m.group(2))
    modifier = to_int(m.group(4)) if m.group(4) else 0
    if count is None or not 1 <= count <= MAX_DICE:
        return None, f"'{shown}' rolls {show_number(m.group(1))} dice: the limit is 1-{MAX_DICE} dice"
    if sides is None or not MIN_SIDES <= sides <= MAX_SIDES:
        return None, (f"'{shown}' has {show_number(m.group(2))}-sided dice: "
                      f"the limit is {MIN_SIDES}-{MAX_SIDES} faces")
    if modifier is None or modifier > MAX_MODIFIER:
        return None, (f"'{shown}' has modifier {m.group(3)}{show_number(m.group(4))}: "
                      f"the limit is -{MAX_MODIFIER} to +{MAX_MODIFIER}")
    return DiceExpr(count, sides, -modifier if m.group(3) == "-" else modifier), None


def parse_dice(text: str) -> DiceExpr | None:
    """``1d20+5`` / ``d20`` / ``2d6 - 1`` -> DiceExpr; anything else (or out of limits) -> None."""
    return read_dice(text)[0]


def roll_dice(count: int, sides: int, rng: random.Random) -> list[int]:
    return [rng.randint(1, sides) for _ in range(count)]


def outcome_for(total: int, target_value: int) -> Outcome:
    """5e rule: meeting the DC (or AC) succeeds."""
    return Outcome.SUCCESS if total >= target_value else Outcome.FAILURE
