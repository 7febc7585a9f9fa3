from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dndtune.evaluate.consistency import judge_reply, summarize
from dndtune.evaluate.examples import DmTurn, dm_turns, load_scenario_folder
from dndtune.events import NullSink

ROOT = Path(__file__).resolve().parents[2]


def result(skill: str, outcome: str, *, character: str = "Mira", total: int = 15, target: int = 12,
           kind: str = "dc") -> dict[str, Any]:
    return {"skill": skill, "character": character, "dice": "1d20+3", "rolls": [total - 3], "modifier": 3,
            "total": total, kind: target, "outcome": outcome}


@pytest.mark.parametrize(("reply", "skill", "outcome", "verdict"), [
    ("Mira succeeds: she spots the tripwire just in time.", "perception", "success", "consistent"),
    ("Mira fails to notice anything; the corridor looks empty.", "perception", "failure", "consistent"),
    ("Mira doesn't notice the tripwire.", "perception", "failure", "consistent"),
    ("Mira doesn't notice the tripwire.", "perception", "success", "contradicted"),
    ("She can't find a single trace of the thieves.", "investigation", "failure", "consistent"),
    ("The axe bites deep for 9 damage.", "attack", "hit", "consistent"),
    ("The axe misses, ringing off the goblin's shield.", "attack", "hit", "contradicted"),
    ("The blade rings off its breastplate, doing no harm.", "attack", "miss", "consistent"),
    ("The guard turns and spots you at once.", "stealth", "failure", "consistent"),
    ("The owlbear is restrained by the vines.", "strength save", "failure", "consistent"),
    ("The door creaks open onto darkness.", "athletics", "success", "unclear"),
])
def test_outcome_words(reply: str, skill: str, outcome: str, verdict: str) -> None:
    assert judge_reply(reply, [result(skill, outcome)]).verdict == verdict


def test_no_outcome_in_result_is_not_judged() -> None:
    damage = {"skill": "damage", "character": "Borin", "dice": "1d8+3", "rolls": [5], "modifier": 3, "total": 8}
    assert judge_reply("Borin hits for 8 damage.", [damage]).verdict == "not_applicable"


def test_a_stated_total_that_is_not_the_roll_contradicts() -> None:
    check = judge_reply("You rolled a 4, and Mira succeeds anyway.", [result("perception", "success", total=15)])
    assert check.verdict == "contradicted" and check.wrong_numbers == (4,)
    ok = judge_reply("You rolled a 15: Mira succeeds.", [result("perception", "success", total=15)])
    assert ok.verdict == "consistent"


def test_mixed_outcomes_are_judged_per_character() -> None:
    results = [result("constitution save", "failure", character="Korrin", total=8),
               result("constitution save", "success", character="Lissa", total=15)]
    right = "Lissa walks through untouched. Korrin staggers, coughing, and fails to shake it off."
    wrong = "Lissa staggers and succumbs to the fumes. Korrin walks through untouched."
    assert judge_reply(right, results).verdict == "consistent"
    assert judge_reply(wrong, results).verdict == "contradicted"


def test_tool_call_blocks_are_not_read_as_narration() -> None:
    reply = 'Mira succeeds.<tool_call>\n{"name": "roll", "arguments": {"skill": "failure check"}}\n</tool_call>'
    assert judge_reply(reply, [result("perception", "success")]).verdict == "consistent"


def _result_turns() -> list[DmTurn]:
    examples = load_scenario_folder([ROOT / "training-data"], NullSink())
    return [t for e in examples for t in dm_turns(e) if any("outcome" in r for r in t.results)]


def test_reference_replies_of_the_sample_scenarios_are_rarely_contradicted() -> None:
    # Word cues misread some hand-written replies ("the door creaks open" after a success): on the
    # 404 result turns of the 129 shipped scenarios, 39 (10 %) are flagged. The bound keeps that
    # false-alarm rate from growing; consistency is a signal beside the goals, not one of them.
    turns = _result_turns()
    checks = [judge_reply(t.reference_text, t.results) for t in turns]
    scores = summarize(checks)
    assert scores.judged >= 300
    assert scores.contradicted / scores.judged <= 0.12
    assert scores.coverage is not None and scores.coverage >= 0.5


def test_flipping_the_outcome_turns_consistent_references_into_contradictions() -> None:
    flip = {"success": "failure", "failure": "success", "hit": "miss", "miss": "hit"}
    flipped = consistent = 0
    for turn in _result_turns():
        if judge_reply(turn.reference_text, turn.results).verdict != "consistent":
            continue
        consistent += 1
        swapped = [dict(r, outcome=flip.get(r.get("outcome", ""), r.get("outcome"))) for r in turn.results]
        flipped += judge_reply(turn.reference_text, swapped).verdict == "contradicted"
    assert consistent >= 40
    assert flipped / consistent >= 0.9


def test_summary() -> None:
    checks = [judge_reply("Mira succeeds.", [result("perception", "success")]),
              judge_reply("Mira fails.", [result("perception", "success")]),
              judge_reply("The room is dark.", [result("perception", "success")]),
              judge_reply("Nothing happens.", [])]
    s = summarize(checks)
    assert (s.judged, s.consistent, s.contradicted, s.unclear) == (3, 1, 1, 1)
    assert s.consistency == pytest.approx(0.5) and s.coverage == pytest.approx(2 / 3)
