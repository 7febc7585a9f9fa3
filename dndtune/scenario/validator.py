"""The meaning rules of a scenario, checked on the model (parsed or augmented alike)."""

from __future__ import annotations

from collections.abc import Collection

from dndtune.scenario.diagnostics import Diagnostic, DiagnosticCollector
from dndtune.scenario.dice import outcome_for
from dndtune.scenario.limits import (
    MAX_DICE,
    MAX_HP,
    MAX_LEVEL,
    MAX_MODIFIER,
    MAX_QUANTITY,
    MAX_SIDES,
    MAX_TARGET,
    MAX_XP,
    MIN_LEVEL,
    MIN_SIDES,
    clip,
    range_error,
)
from dndtune.scenario.models import Outcome, RollRequest, RollResult, Scenario, Turn, TurnRole
from dndtune.scenario.skills import SKILLS, suggest_skill

HEADER = {TurnRole.USER: "User", TurnRole.DM: "DM", TurnRole.TOOLCALL: "TOOLCALL"}


def check_scenario(scenario: Scenario, *, incomplete_turns: Collection[int] = ()) -> list[Diagnostic]:
    """Every rule violation of ``scenario``.

    ``incomplete_turns`` holds indexes of turns the parser could not read in full; request/result
    matching is skipped for them so one typo is reported once, not twice.
    """
    out = DiagnosticCollector(scenario.path)
    _check_system(scenario, out)
    _check_order(scenario, out, incomplete_turns)
    for turn in scenario.turns:
        for request in turn.rolls:
            _check_skill(request.skill, request.line, out)
        for result in turn.results:
            _check_skill(result.skill, result.line, out)
            _check_result(result, out)
    return sorted(out.items, key=lambda d: d.line)


def _check_system(scenario: Scenario, out: DiagnosticCollector) -> None:
    system = scenario.system
    if not system.role:
        out.error(system.line, "SYSTEM has no 'Role:' line (e.g. 'Role: Dungeon Master. Narrate vividly...')")
    for name, value in (("World", system.world), ("Location", system.location)):
        if not value:
            out.warning(system.line, f"SYSTEM has no '{name}:' line; the model learns less about the setting")
    if not system.party:
        out.warning(system.line, "SYSTEM has no 'Party:' list; the model cannot learn who the characters are")
    seen: set[str] = set()
    for c in system.party:
        if c.name.lower() in seen:
            out.error(c.line, f"party member '{c.name}' is listed twice")
        seen.add(c.name.lower())
        if c.hp_current is not None and c.hp_max is not None:
            if c.hp_max <= 0:
                out.error(c.line, f"{c.name}: maximum HP must be positive, got {c.hp_max}")
            elif c.hp_current > c.hp_max:
                out.error(c.line, f"{c.name}: HP {c.hp_current} exceeds maximum {c.hp_max}")
            elif c.hp_current < 0:
                out.error(c.line, f"{c.name}: HP {c.hp_current} is below 0 (HP runs from 0 to the maximum, "
                                  f"here 0-{c.hp_max})")
            _limit(out, c.line, f"{c.name}: maximum HP", c.hp_max if c.hp_max > 0 else None, 1, MAX_HP)
        _limit(out, c.line, f"{c.name}: XP", c.xp, 0, MAX_XP)
        if c.level is not None and not MIN_LEVEL <= c.level <= MAX_LEVEL:
            out.error(c.line, f"{c.name}: level must be {MIN_LEVEL}-{MAX_LEVEL}, got {c.level}")
        for item in c.inventory:
            if item.quantity < 1:
                out.error(c.line, f"{c.name}: inventory item '{item.name}' has quantity {item.quantity}")
            elif item.quantity > MAX_QUANTITY:
                _limit(out, c.line, f"{c.name}: quantity of '{item.name}'", item.quantity, 1, MAX_QUANTITY)


def _limit(out: DiagnosticCollector, line: int, what: str, value: int | None, low: int, high: int) -> None:
    """An error naming the limit when ``value`` (if any) is outside ``low``-``high``."""
    if value is not None and (problem := range_error(what, value, low, high)):
        out.error(line, problem)


def _check_skill(skill: str, line: int, out: DiagnosticCollector) -> None:
    if skill in SKILLS:
        return
    suggestion = suggest_skill(skill)
    hint = f" (did you mean '{suggestion}'?)" if suggestion else " (see docs/scenario-format.md for the list)"
    out.error(line, f"unknown skill '{clip(skill)}'{hint}")


def _check_result(r: RollResult, out: DiagnosticCollector) -> None:
    # The parser already refuses such dice; augmented or hand-built results meet the same limits.
    _limit(out, r.line, f"{r.expression}: number of dice", r.count, 1, MAX_DICE)
    _limit(out, r.line, f"{r.expression}: faces per die", r.sides, MIN_SIDES, MAX_SIDES)
    _limit(out, r.line, f"{r.expression}: modifier", r.modifier, -MAX_MODIFIER, MAX_MODIFIER)
    if r.target_kind is not None:
        _limit(out, r.line, r.target_kind, r.target_value, 1, MAX_TARGET)
    if r.faces:
        if len(r.faces) != r.count:
            out.error(r.line, f"{r.expression} rolls {r.count} dice but {len(r.faces)} face(s) are given")
        bad = [f for f in r.faces if not 1 <= f <= r.sides]
        if bad:
            out.error(r.line, f"die face {bad[0]} is impossible on a d{r.sides} (faces are 1-{r.sides})")
        expected = sum(r.faces) + r.modifier
        if r.total != expected:
            chain = "+".join(map(str, r.faces)) + (f"{r.modifier:+d}" if r.modifier else "")
            out.error(r.line, f"wrong total: {chain} = {expected}, not {r.total}")
    else:
        low, high = r.count + r.modifier, r.count * r.sides + r.modifier
        if not low <= r.total <= high:
            out.error(r.line, f"total {r.total} is impossible for {r.expression} (range {low}-{high})")
    if r.target_value is not None and r.outcome is not None:
        expected_outcome = outcome_for(r.total, r.target_value)
        if r.outcome is not expected_outcome:
            words = {Outcome.SUCCESS: "hit", Outcome.FAILURE: "miss"} if r.target_kind == "AC" else {
                Outcome.SUCCESS: "success", Outcome.FAILURE: "failure"}
            out.error(r.line, f"{r.total} vs {r.target_kind} {r.target_value} is a {words[expected_outcome]}, "
                              f"not a {words[r.outcome]}")


def _same_character(request: RollRequest, result: RollResult) -> bool:
    if request.character is None or result.character is None:
        return True
    a, b = request.character.lower(), result.character.lower()
    # "(Thorin)" in the narration matches "(Thorin Ironfist)" in the result.
    return a == b or a.split()[0] == b.split()[0]


def _check_order(scenario: Scenario, out: DiagnosticCollector, incomplete: Collection[int]) -> None:
    turns = scenario.turns
    if not any(t.role is TurnRole.DM for t in turns):
        out.error(scenario.system.line if not turns else turns[0].line,
                  "scenario has no DM turn: there is nothing to train on")
    if turns and turns[0].role is TurnRole.TOOLCALL:
        out.error(turns[0].line, "TOOLCALL without a preceding roll request: a DM turn with '[roll: skill]' "
                                 "must come first")
    for index, turn in enumerate(turns):
        nxt: Turn | None = turns[index + 1] if index + 1 < len(turns) else None
        if turn.role is TurnRole.USER and nxt is not None and nxt.role is not TurnRole.DM:
            out.error(nxt.line, f"{HEADER[nxt.role]} after a User turn: a User turn is answered by a DM turn")
        elif turn.role is TurnRole.DM:
            _check_dm_followup(turn, nxt, index, out, incomplete)
        elif turn.role is TurnRole.TOOLCALL:
            if nxt is None:
                out.error(turn.line, "the scenario ends on a TOOLCALL: add a DM turn that narrates the result")
            elif nxt.role is not TurnRole.DM:
                out.error(nxt.line, f"{HEADER[nxt.role]} after a TOOLCALL: the DM narrates the roll's result first")
    if turns and turns[-1].role is TurnRole.USER:
        out.warning(turns[-1].line, "the scenario ends on a User turn, which is never trained; end on a DM turn")


def _check_dm_followup(turn: Turn, nxt: Turn | None, index: int, out: DiagnosticCollector,
                       incomplete: Collection[int]) -> None:
    if turn.rolls:
        if nxt is None or nxt.role is not TurnRole.TOOLCALL:
            skills = ", ".join(r.skill for r in turn.rolls)
            out.error(turn.rolls[0].line, f"the DM asks for a roll ({skills}) but no TOOLCALL section follows")
            return
        if index in incomplete or index + 1 in incomplete:
            return
        if len(nxt.results) != len(turn.rolls):
            out.error(nxt.line, f"the DM asks for {len(turn.rolls)} roll(s) but the TOOLCALL gives "
                                f"{len(nxt.results)} result(s)")
            return
        for request, result in zip(turn.rolls, nxt.results, strict=True):
            if request.skill != result.skill:
                out.error(result.line, f"TOOLCALL rolls '{result.skill}' but the DM asked for '{request.skill}' "
                                       f"(line {request.line})")
            elif not _same_character(request, result):
                out.error(result.line, f"TOOLCALL rolls for '{result.character}' but the DM asked "
                                       f"'{request.character}' to roll (line {request.line})")
    elif nxt is not None and nxt.role is TurnRole.TOOLCALL:
        out.error(nxt.line, "TOOLCALL without a preceding roll request: add '[roll: skill]' to the DM turn above")
    elif nxt is not None and nxt.role is TurnRole.DM:
        out.error(nxt.line, "two DM turns in a row: merge them, or put a User turn between them")
