"""The goals: each reads the right figure of a report, bounds are inclusive, the verdict says what is missed."""

from __future__ import annotations

import pytest

from dndtune.evaluate.goals import GOALS, GoalRow, judge, table_lines
from tests.evaluate.reports import goal_report as report


def test_the_eight_goals_in_table_order() -> None:
    assert [(g.label, g.goal_text) for g in GOALS] == [
        ("roll recall", ">= 0.95"), ("roll precision", ">= 0.90"), ("false call rate", "<= 0.05"),
        ("exact skill", ">= 0.85"), ("JSON validity", ">= 1.00"), ("stops cleanly", ">= 0.95"),
        ("leak rate", "<= 0.00"), ("regression suite", ">= 1.00")]


def test_a_perfect_report_meets_every_goal() -> None:
    verdict = judge(report())
    assert verdict.all_met and not verdict.missed
    assert verdict.summary() == "the model meets all 8 goals"


def test_bounds_are_inclusive() -> None:
    verdict = judge(report(recall=0.95, precision=0.90, false_call_rate=0.05, exact_skill=0.85, stop_rate=0.95))
    assert verdict.all_met


@pytest.mark.parametrize(("figure", "value", "key"), [
    ("recall", 0.94, "recall"), ("precision", 0.89, "precision"), ("false_call_rate", 0.06, "false_call_rate"),
    ("exact_skill", 0.84, "exact_skill"), ("json_validity", 0.99, "json_validity"), ("stop_rate", 0.94, "stop_rate"),
    ("leak_rate", 0.01, "leak_rate"), ("passed", 13, "regression_pass_rate"),
])
def test_each_goal_reads_its_own_figure(figure: str, value: float, key: str) -> None:
    verdict = judge(report(**{figure: value}))
    assert [r.key for r in verdict.missed] == [key]


def test_verdict_names_what_is_missed_with_the_figures() -> None:
    verdict = judge(report(exact_skill=0.4, stop_rate=0.5, passed=12))
    assert verdict.summary() == ("the model misses 3 of 8 goals (exact skill 0.40 < 0.85, stops cleanly 0.50 < 0.95, "
                                 "regression suite 0.86 < 1.00)")
    assert verdict.as_dict()["missed"] == ["exact_skill", "stop_rate", "regression_pass_rate"]
    assert judge(report(leak_rate=0.2)).summary() == "the model misses 1 of 8 goals (leak rate 0.20 > 0.00)"


def test_unmeasured_figures_are_neither_met_nor_missed() -> None:
    verdict = judge(report(recall=None, cases=None))
    assert [r.key for r in verdict.not_measured] == ["recall", "regression_pass_rate"]
    assert not verdict.missed and not verdict.all_met
    assert verdict.summary() == "the model meets 6 of 8 goals (not measured: roll recall, regression suite)"
    both = judge(report(recall=None, exact_skill=0.5))
    assert both.summary() == "the model misses 1 of 8 goals (exact skill 0.50 < 0.85); not measured: roll recall"


def test_rows_carry_the_baseline_and_survive_a_round_trip() -> None:
    rows = judge(report(exact_skill=0.4), report(recall=0.0, exact_skill=None, passed=3)).rows
    skill = next(r for r in rows if r.key == "exact_skill")
    assert (skill.value, skill.baseline, skill.goal, skill.met) == (0.4, None, ">= 0.85", False)
    assert next(r for r in rows if r.key == "recall").baseline == 0.0
    assert [GoalRow.from_dict(r.as_dict()) for r in rows] == list(rows)
    assert GoalRow.from_dict({"key": "x", "value": True, "met": "yes"}).value is None


def test_table_lines_align_the_columns() -> None:
    lines = table_lines(judge(report(exact_skill=0.4), report(recall=0.0)).rows, indent="  ")
    assert lines[0].split() == ["score", "this", "model", "base", "goal", "ok"]
    assert lines[1] == "  roll recall             1.00  0.00  >= 0.95  ✓"
    assert lines[4] == "  exact skill             0.40  1.00  >= 0.85  ✗"
    assert len({len(line) for line in lines[1:]}) == 1
