from __future__ import annotations

import pytest

from dndtune.dataset.chat import tools
from dndtune.evaluate.examples import ExpectedCall
from dndtune.evaluate.toolcalls import check_turn, summarize
from dndtune.models.profiles import ModelProfile, get_profile

QWEN = get_profile("qwen2.5-0.5b")
GEMMA = get_profile("gemma-3-270m")
SCHEMA = tools()
MIRA_PERCEPTION = (ExpectedCall("perception", "Mira"),)


def block(profile_name: str, body: str) -> str:
    fmt = get_profile(profile_name).tool_format
    return f"{fmt.call_open}{body}{fmt.call_close}"


@pytest.mark.parametrize("profile", [QWEN, GEMMA], ids=["qwen", "gemma"])
def test_right_call_in_either_family_format(profile: ModelProfile) -> None:
    text = "Mira listens. " + profile.format_tool_call("roll", {"skill": "perception", "character": "Mira"})
    check = check_turn(text, MIRA_PERCEPTION, profile, SCHEMA)
    assert (check.called, check.valid, check.skill_matches, check.character_matches) == (True, 1, 1, 1)
    assert check.exact


def test_null_character_is_accepted_as_the_chat_template_writes_it() -> None:
    text = block("qwen2.5-0.5b", '{"name": "roll", "arguments": {"skill": "stealth", "character": null}}')
    check = check_turn(text, (ExpectedCall("stealth", None),), QWEN, SCHEMA)
    assert check.valid == 1 and check.skill_matches == 1 and check.character_expected == 0


@pytest.mark.parametrize(("body", "why"), [
    ('{"name": "roll", "arguments": {"skill": "perception", "character": "Mira"', "cut-off JSON"),
    ('{"name": "roll", "arguments": {"skill": "perceptoin"}}', "skill outside the schema enum"),
    ('{"name": "dice", "arguments": {"skill": "perception"}}', "unknown tool"),
    ('{"name": "roll", "arguments": {"skill": "perception", "dc": 15}}', "argument the schema lacks"),
    ('{"name": "roll", "arguments": {"skill": 7}}', "skill not a string"),
    ("roll perception for Mira", "not JSON"),
])
def test_blocks_the_app_would_reject_count_as_attempts_but_not_valid(body: str, why: str) -> None:
    check = check_turn(block("qwen2.5-0.5b", body), MIRA_PERCEPTION, QWEN, SCHEMA)
    assert check.called, why
    assert check.valid == 0, why
    assert not check.exact


def test_unclosed_block_is_an_attempt() -> None:
    check = check_turn('<tool_call>\n{"name": "roll", "arguments": {"skill": "perc', MIRA_PERCEPTION, QWEN, SCHEMA)
    assert check.attempted == 1 and check.valid == 0 and check.skill_matches == 0


def test_two_rolls_of_one_skill_pair_by_character() -> None:
    expected = (ExpectedCall("constitution save", "Korrin"), ExpectedCall("constitution save", "Lissa"))
    text = (QWEN.format_tool_call("roll", {"skill": "constitution save", "character": "Lissa"})
            + QWEN.format_tool_call("roll", {"skill": "constitution save", "character": "Korrin"}))
    check = check_turn(text, expected, QWEN, SCHEMA)
    assert check.skill_matches == 2 and check.character_matches == 2


def test_first_name_matches_full_name() -> None:
    text = QWEN.format_tool_call("roll", {"skill": "perception", "character": "Mira Vale"})
    assert check_turn(text, MIRA_PERCEPTION, QWEN, SCHEMA).character_matches == 1


def test_summary_arithmetic() -> None:
    right = QWEN.format_tool_call("roll", {"skill": "perception", "character": "Mira"})
    wrong_skill = QWEN.format_tool_call("roll", {"skill": "stealth", "character": "Mira"})
    broken = block("qwen2.5-0.5b", "{oops}")
    checks = [
        check_turn(right, MIRA_PERCEPTION, QWEN, SCHEMA),          # TP, skill right
        check_turn(wrong_skill, MIRA_PERCEPTION, QWEN, SCHEMA),    # TP, skill wrong
        check_turn("She listens.", MIRA_PERCEPTION, QWEN, SCHEMA),  # FN
        check_turn(broken, (), QWEN, SCHEMA),                      # FP, invalid JSON
        check_turn("The chapel is quiet.", (), QWEN, SCHEMA),      # TN
    ]
    s = summarize(checks)
    assert (s.true_positive, s.false_positive, s.false_negative, s.true_negative) == (2, 1, 1, 1)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.false_call_rate == pytest.approx(1 / 2)
    assert s.exact_skill == pytest.approx(1 / 3)
    assert s.json_validity == pytest.approx(2 / 3)
    assert s.character_accuracy == pytest.approx(1.0)
    assert s.turn_accuracy == pytest.approx(2 / 5)


def test_empty_summary_has_no_rates() -> None:
    s = summarize([])
    assert s.precision is None and s.recall is None and s.json_validity is None
