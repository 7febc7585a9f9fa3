"""Dice re-rolls: new faces and totals for TOOLCALL results the narration cannot tell apart."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from dndtune.scenario.dice import outcome_for, roll_dice
from dndtune.scenario.lines import format_result
from dndtune.scenario.models import RollResult, Scenario, Turn, TurnRole

# Rolls whose numbers the narration uses directly (damage totals, who acts first): never re-rolled.
NEVER_REROLL = frozenset({"damage", "initiative", "death save"})
REROLL_ATTEMPTS = 12


def _mentioned_numbers(turns: Iterable[Turn]) -> set[int]:
    return {int(n) for t in turns if t.role is not TurnRole.TOOLCALL for n in re.findall(r"(?<![\w.])\d+", t.text)}


def _band(total: int) -> int:
    # Totals within the same 5-point band read alike when no DC or AC says what they mean.
    return total // 5


def _is_crit(result: RollResult, faces: Iterable[int]) -> bool:
    return result.sides == 20 and any(f in (1, 20) for f in faces)


def reroll(result: RollResult, rng: random.Random, *, free: bool) -> RollResult:
    """New faces and total for one result, keeping what the narration after it depends on.

    With a DC or AC the outcome must stay the same; without one (``free``) the total must stay in
    its 5-point band. Natural 1s and 20s on a d20 are never made or unmade. Returns ``result``
    itself when no draw within a few attempts qualifies.
    """
    for _ in range(REROLL_ATTEMPTS):
        faces = tuple(roll_dice(result.count, result.sides, rng))
        total = sum(faces) + result.modifier
        if faces == result.faces or _is_crit(result, faces):
            continue
        if result.target_value is not None:
            expected = outcome_for(result.total, result.target_value)
            if outcome_for(total, result.target_value) is not expected:
                continue
            outcome = outcome_for(total, result.target_value) if result.outcome is not None else None
            return result.model_copy(update={"faces": faces, "total": total, "outcome": outcome})
        if free and _band(total) == _band(result.total):
            return result.model_copy(update={"faces": faces, "total": total})
    return result


def reroll_dice(scenario: Scenario, rng: random.Random) -> Scenario:
    """Re-roll the dice of TOOLCALL results where the DM's narration cannot tell the difference.

    Skipped: damage, initiative and death saves (the narration uses their numbers), results that
    gave no faces, natural 1s/20s, totals the later turns mention as a number, and - without a
    DC/AC - rolls that share their TOOLCALL with another untargeted roll (they may be compared).
    """
    turns = list(scenario.turns)
    for index, turn in enumerate(turns):
        if turn.role is not TurnRole.TOOLCALL or not turn.results:
            continue
        mentioned = _mentioned_numbers(turns[index + 1:])
        untargeted = sum(1 for r in turn.results if r.target_value is None)
        results = []
        for r in turn.results:
            # A lone d20 face can be quoted too ("a natural 17"), not only the total.
            quoted = r.total in mentioned or (len(r.faces) == 1 and r.faces[0] in mentioned)
            eligible = r.skill not in NEVER_REROLL and bool(r.faces) and not _is_crit(r, r.faces) and not quoted
            results.append(reroll(r, rng, free=untargeted == 1) if eligible else r)
        if tuple(results) != turn.results:
            turns[index] = turn.model_copy(update={
                "results": tuple(results), "text": "\n".join(format_result(r) for r in results)})
    return scenario.model_copy(update={"turns": tuple(turns)})
