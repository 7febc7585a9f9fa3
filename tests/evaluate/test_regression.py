from __future__ import annotations

from collections.abc import Sequence

import pytest

from dndtune.dataset.chat import Message
from dndtune.evaluate.regression import CaseResult, RegressionReport, load_cases, regressions, run_suite
from dndtune.evaluate.runner import GenerationSettings
from dndtune.scenario.skills import SKILLS
from tests.evaluate.scripted import ScriptedRunner, qwen_call


def test_shipped_cases_are_well_formed() -> None:
    cases = load_cases()
    assert len(cases) >= 12
    assert len({c.id for c in cases}) == len(cases)
    assert any(c.expect.call for c in cases) and any(not c.expect.call for c in cases)
    for case in cases:
        party = {m.name.split()[0] for m in case.system.party}
        if case.expect.call:
            assert case.expect.skill in SKILLS, case.id
            assert case.expect.character in party, case.id
        messages = case.messages()
        assert messages[0]["role"] == "system" and "roll tool" in messages[0]["content"]
        assert messages[-1]["role"] in ("user", "tool")


def _oracle(messages: Sequence[Message]) -> str:
    """Replies exactly as each case expects, so every case passes."""
    case = next(c for c in load_cases() if c.messages() == list(messages))
    if case.expect.call:
        return "Roll for it." + qwen_call(case.expect.skill or "", case.expect.character)
    return "You do so without trouble."


def test_a_model_that_does_everything_right_passes_every_case() -> None:
    report = run_suite(ScriptedRunner(_oracle), GenerationSettings())
    assert report.passed == len(report.cases) and report.pass_rate == 1.0


def test_wrong_behaviour_fails_with_a_reason() -> None:
    always_stealth = ScriptedRunner(lambda m: qwen_call("stealth", "Mira"))
    report = run_suite(always_stealth, GenerationSettings())
    reasons = {c.id: c.reason for c in report.cases}
    assert reasons["stealth-sneak"] == "right tool call"
    assert reasons["perception-listen"].startswith("wrong skill")
    assert reasons["no-roll-walk"] == "called a tool where none is wanted"
    wrong_character = run_suite(ScriptedRunner(lambda m: qwen_call("perception", "Borin")), GenerationSettings())
    assert wrong_character.by_id()["perception-listen"].reason.startswith("wrong character")


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({"a": True, "b": True}, {"a": True, "b": False}, ["b"]),
    ({"a": False, "b": True}, {"a": True, "b": True}, []),
    ({"a": True}, {"b": False}, []),
])
def test_regressions_are_cases_that_passed_and_now_fail(before: dict[str, bool], after: dict[str, bool],
                                                        expected: list[str]) -> None:
    def report(outcomes: dict[str, bool]) -> RegressionReport:
        return RegressionReport(cases=[CaseResult(id=k, passed=v, reason="", reply="") for k, v in outcomes.items()])

    assert regressions(report(before), report(after)) == expected
