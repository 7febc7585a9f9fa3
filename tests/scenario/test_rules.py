"""One failing example per rule, asserting the exact ``path:line: severity: message``."""

from __future__ import annotations

import pytest

from dndtune.scenario.parser import parse_scenario
from tests.scenario.samples import GOOD


def messages(text: str) -> list[str]:
    return [str(d) for d in parse_scenario(text, "s.md", "combat").diagnostics]


def test_good_file_has_no_problems() -> None:
    result = parse_scenario(GOOD, "s.md", "combat")
    assert result.ok and result.diagnostics == []
    scenario = result.scenario
    assert scenario is not None
    assert scenario.title == "Goblin Ambush"
    assert scenario.tags == ("goblins", "ambush")
    thorin = scenario.system.party[0]
    assert (thorin.race, thorin.char_class, thorin.level) == ("Dwarf", "Fighter", 3)
    assert (thorin.hp_current, thorin.hp_max, thorin.xp) == (28, 31, 900)
    assert [(i.name, i.quantity) for i in thorin.inventory] == [("battleaxe", 1), ("healing potion", 2)]
    assert [(i.name, i.quantity) for i in scenario.system.party[1].inventory] == [("spellbook", 1), ("gp", 12)]
    assert scenario.tool_calls[0].skill == "perception" and scenario.tool_calls[0].line == 16
    result_line = scenario.turns[2].results[0]
    assert (result_line.faces, result_line.modifier, result_line.total, result_line.line) == ((17,), 1, 18, 19)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("# Goblin Ambush\n", "", "s.md:1: error: missing title: the file should start with '# Scenario title'"),
        ("Role: Dungeon Master. Narrate vividly.\n", "",
         "s.md:4: error: SYSTEM has no 'Role:' line (e.g. 'Role: Dungeon Master. Narrate vividly...')"),
        ("World: Forgotten Realms\n", "",
         "s.md:4: warning: SYSTEM has no 'World:' line; the model learns less about the setting"),
        ("Location: Triboar Trail\n", "",
         "s.md:4: warning: SYSTEM has no 'Location:' line; the model learns less about the setting"),
        ("HP 28/31", "HP 32/31", "s.md:9: error: Thorin Ironfist: HP 32 exceeds maximum 31"),
        ("HP 28/31", "HP 28", "s.md:9: error: Thorin Ironfist: HP must look like 'HP 28/31', got 'HP 28'"),
        ("Fighter 3", "Fighter 31", "s.md:9: error: Thorin Ironfist: level must be 1-20, got 31"),
        ("## User\n", "## Narrator\n",
         "s.md:12: error: unknown section '## Narrator'; sections are SYSTEM, User, DM and TOOLCALL"),
        ("## User\n", "## Usr\n",
         "s.md:12: error: unknown section '## Usr' (did you mean '## User'?); sections are SYSTEM, User, DM "
         "and TOOLCALL"),
        ("Thorin scans the treeline.\n", "", "s.md:12: error: empty User section"),
        ("[roll: perception (Thorin)]", "[roll: perceptoin (Thorin)]",
         "s.md:16: error: unknown skill 'perceptoin' (did you mean 'perception'?)"),
        ("[roll: perception (Thorin)]", "[roll perception]",
         "s.md:16: error: malformed roll marker '[roll perception]' (write '[roll: skill]' or "
         "'[roll: skill (Character)]')"),
        ("[roll: perception (Thorin)]", "[roll: ]",
         "s.md:16: error: roll marker '[roll: ]' names no skill (write '[roll: perception]')"),
        ("17+1 = 18", "17+1 = 19", "s.md:19: error: wrong total: 17+1 = 18, not 19"),
        ("1d20+1 = 17+1", "1d20+1 = 21+1", "s.md:19: error: die face 21 is impossible on a d20 (faces are 1-20)"),
        ("17+1 = 18", "17+2 = 19",
         "s.md:19: error: modifier +2 in '17+2' does not match the +1 of 1d20+1"),
        ("= 18\n", "= 18 vs DC 19: success\n", "s.md:19: error: 18 vs DC 19 is a failure, not a success"),
        ("= 18\n", "= 18 vs AC 12: miss\n", "s.md:19: error: 18 vs AC 12 is a hit, not a miss"),
        ("= 18\n", "= 18: success\n", "s.md:19: error: outcome 'success' needs a target: write 'vs DC 15: success'"),
        ("roll: perception (Thorin) = 1d20+1 = 17+1 = 18", "roll: stealth (Thorin) = 1d20+1 = 17+1 = 18",
         "s.md:19: error: TOOLCALL rolls 'stealth' but the DM asked for 'perception' (line 16)"),
        ("roll: perception (Thorin) = 1d20+1", "roll: perception (Lyra) = 1d20+1",
         "s.md:19: error: TOOLCALL rolls for 'Lyra' but the DM asked 'Thorin' to roll (line 16)"),
        ("roll: perception (Thorin) = 1d20+1 = 17+1 = 18", "perception check: 18",
         "s.md:19: error: cannot read roll result 'perception check: 18' (write 'roll: skill (Character) = "
         "1d20+3 = 14+3 = 17', optionally followed by ' vs DC 15: success')"),
        ("1d20+1 = 17+1 = 18", "1q20 = 18",
         "s.md:19: error: '1q20' is not a dice expression (write NdM+K, e.g. 1d20+3 or 2d6; "
         "1-100 dice, 2-1000 faces, a modifier from -100 to +100)"),
        ("1d20+1 = 17+1 = 18", "1d20+1 = 25", "s.md:19: error: total 25 is impossible for 1d20+1 (range 2-21)"),
        ("1d20+1 = 17+1 = 18", "2d6 = 4 = 4", "s.md:19: error: 2d6 rolls 2 dice but '4' shows 1 value(s)"),
        ("1d20+1 = 17+1 = 18", "2d6+3 = 4+3 = 7",
         "s.md:19: error: '4+3' should be 2 die face(s) then the modifier: write '<face>+<face>+3'"),
    ],
)
def test_rule(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert expected in messages(GOOD.replace(old, new, 1))


def test_roll_without_toolcall() -> None:
    text = GOOD.replace("## TOOLCALL\nroll: perception (Thorin) = 1d20+1 = 17+1 = 18\n\n## DM\n", "## User\n")
    assert "s.md:16: error: the DM asks for a roll (perception) but no TOOLCALL section follows" in messages(text)


def test_toolcall_without_request() -> None:
    text = GOOD.replace(" [roll: perception (Thorin)]", "")
    assert ("s.md:18: error: TOOLCALL without a preceding roll request: add '[roll: skill]' to the DM turn above"
            in messages(text))


def test_toolcall_first() -> None:
    text = GOOD.replace("## User\nThorin scans the treeline.\n\n## DM\nThorin squints into the pines. "
                        "[roll: perception (Thorin)]\n\n", "")
    assert ("s.md:12: error: TOOLCALL without a preceding roll request: a DM turn with '[roll: skill]' must come "
            "first") in messages(text)


def test_empty_section_is_reported_once() -> None:
    text = GOOD.replace("Thorin scans the treeline.\n", "")
    assert messages(text) == ["s.md:12: error: empty User section"]


def test_two_user_turns() -> None:
    text = GOOD.replace("## DM\nThorin squints", "## User\nAgain.\n\n## DM\nThorin squints")
    assert "s.md:15: error: User after a User turn: a User turn is answered by a DM turn" in messages(text)


def test_two_dm_turns() -> None:
    text = GOOD + "\n## DM\nMore narration.\n"
    assert "s.md:24: error: two DM turns in a row: merge them, or put a User turn between them" in messages(text)


def test_ends_on_toolcall() -> None:
    text = GOOD.replace("\n## DM\nThree goblins crouch behind a log.\n", "")
    assert ("s.md:18: error: the scenario ends on a TOOLCALL: add a DM turn that narrates the result"
            in messages(text))


def test_ends_on_user_is_a_warning() -> None:
    text = GOOD + "\n## User\nI charge!\n"
    assert ("s.md:24: warning: the scenario ends on a User turn, which is never trained; end on a DM turn"
            in messages(text))


def test_no_dm_turn() -> None:
    text = GOOD.split("## DM")[0]
    assert "s.md:12: error: scenario has no DM turn: there is nothing to train on" in messages(text)


def test_missing_system() -> None:
    text = GOOD.replace("## SYSTEM\n", "## Setting\n")
    result = parse_scenario(text, "s.md", "combat")
    assert result.scenario is None
    assert ("s.md:4: error: missing '## SYSTEM' section (it comes first and holds Role, World, Location, Party)"
            in [str(d) for d in result.diagnostics])


def test_second_system() -> None:
    text = GOOD + "\n## SYSTEM\nRole: again\n"
    assert ("s.md:24: error: second '## SYSTEM' section: a scenario has exactly one, before any turn"
            in messages(text))


def test_text_outside_sections() -> None:
    text = GOOD.replace("<!-- tags: goblins, ambush -->\n", "stray words\n")
    assert "s.md:2: error: text outside any section: 'stray words' (put it under a '## ' header)" in messages(text)


def test_count_mismatch() -> None:
    text = GOOD.replace("(Thorin)]", "(Thorin)] [roll: athletics (Thorin)]", 1)
    assert "s.md:18: error: the DM asks for 2 roll(s) but the TOOLCALL gives 1 result(s)" in messages(text)


def test_one_typo_is_reported_once() -> None:
    text = GOOD.replace("roll: perception (Thorin) = 1d20+1 = 17+1 = 18", "perception check: 18")
    assert len(messages(text)) == 1


def test_all_problems_of_a_file_at_once() -> None:
    text = GOOD.replace("HP 28/31", "HP 40/31").replace("17+1 = 18", "17+1 = 19").replace("## User", "## Usr")
    found = messages(text)
    assert len(found) >= 3
    assert [m.split(":")[1] for m in found] == sorted((m.split(":")[1] for m in found), key=int)


def test_lenient_forms() -> None:
    text = (GOOD.replace("HP 28/31", "HP: 28 / 31").replace("## User", "## user").replace("## DM", "## dm")
            .replace("## TOOLCALL", "## Tool Call").replace("(Thorin)]", "(Thorin) ]")
            .replace("= 18\n", "= 18 vs DC 15 -> hit\n"))
    result = parse_scenario(text, "s.md", "combat")
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.scenario is not None
    assert result.scenario.system.party[0].hp_current == 28


@pytest.mark.parametrize(("written", "canonical"), [
    ("Dex save", "dexterity save"), ("Wisdom Saving Throw", "wisdom save"), ("Sleight of Hand", "sleight of hand"),
    ("ATTACK", "attack"), ("animal-handling", "animal handling"),
])
def test_skill_spellings(written: str, canonical: str) -> None:
    text = GOOD.replace("perception (Thorin)]", f"{written} (Thorin)]").replace(
        "roll: perception", f"roll: {written}")
    result = parse_scenario(text, "s.md", "combat")
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.scenario is not None and result.scenario.tool_calls[0].skill == canonical


def test_multi_dice_and_negative_modifier() -> None:
    text = GOOD.replace("(Thorin)]", "(Thorin)] [roll: damage (Lyra)]", 1).replace(
        "= 18\n", "= 18\nroll: damage (Lyra) = 3d6-1 = 2+5+6-1 = 12\n")
    result = parse_scenario(text, "s.md", "combat")
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.scenario is not None
    damage = result.scenario.turns[2].results[1]
    assert (damage.count, damage.sides, damage.modifier, damage.faces, damage.total) == (3, 6, -1, (2, 5, 6), 12)
