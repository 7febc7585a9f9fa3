"""What a fine-tuned game master has to reach, in one place: the goals and the verdict on a report.

Each goal reads one figure of an :class:`~dndtune.evaluate.report.EvalReport` (see
``docs/evaluation.md`` for how each is measured) and compares it with a fixed bound. Pure
functions only: the pipeline's evaluate stage, the run summary, ``run.json`` and the TUI all
turn a report into the same rows with :func:`goal_rows` and :func:`judge`.

A goal whose figure could not be measured (no turn that wants a roll, regression suite switched
off...) is neither met nor missed: it is reported as *not measured*, so a verdict never claims
more than the evaluation showed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from dndtune.evaluate.report import EvalReport

Comparison = Literal[">=", "<="]
EPSILON = 1e-9
"""Slack for bounds of exactly 1.00 or 0.00, which ratios of counts hit exactly or not at all."""


@dataclass(frozen=True)
class Goal:
    key: str
    """Stable id, used in ``run.json`` (matches the :data:`~dndtune.evaluate.report.HEADLINE` keys where one exists)."""
    label: str
    comparison: Comparison
    bound: float
    read: Callable[[EvalReport], float | None]
    """Where the figure lives in the report."""

    @property
    def goal_text(self) -> str:
        return f"{self.comparison} {self.bound:.2f}"

    def met_by(self, value: float | None) -> bool | None:
        if value is None:
            return None
        if self.comparison == ">=":
            return value >= self.bound - EPSILON
        return value <= self.bound + EPSILON


def _regression_pass_rate(report: EvalReport) -> float | None:
    # An empty suite has no pass rate; every case passing is 1.00.
    return report.regression.pass_rate if report.regression is not None else None


GOALS: tuple[Goal, ...] = (
    Goal("recall", "roll recall", ">=", 0.95, lambda r: r.tool_calls.recall),
    Goal("precision", "roll precision", ">=", 0.90, lambda r: r.tool_calls.precision),
    Goal("false_call_rate", "false call rate", "<=", 0.05, lambda r: r.tool_calls.false_call_rate),
    Goal("exact_skill", "exact skill", ">=", 0.85, lambda r: r.tool_calls.exact_skill),
    Goal("json_validity", "JSON validity", ">=", 1.00, lambda r: r.tool_calls.json_validity),
    Goal("stop_rate", "stops cleanly", ">=", 0.95, lambda r: r.quality.stop_rate),
    Goal("leak_rate", "leak rate", "<=", 0.00, lambda r: r.quality.leak_rate),
    Goal("regression_pass_rate", "regression suite", ">=", 1.00, _regression_pass_rate),
)
"""The goals, in the order tables show them."""


@dataclass(frozen=True)
class GoalRow:
    key: str
    label: str
    value: float | None
    baseline: float | None
    goal: str
    """The bound as text: ``>= 0.95``."""
    met: bool | None
    """None: not measured."""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "value": self.value, "baseline": self.baseline,
                "goal": self.goal, "met": self.met}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GoalRow:
        """A row as ``run.json`` and the ``evaluate.goals`` event carry it."""
        met = data.get("met")
        return cls(key=str(data.get("key", "")), label=str(data.get("label", data.get("key", "?"))),
                   value=_number(data.get("value")), baseline=_number(data.get("baseline")),
                   goal=str(data.get("goal", "")), met=met if isinstance(met, bool) else None)

    @property
    def shortfall(self) -> str:
        """``exact skill 0.40 < 0.85`` (or ``... not measured``): why the row is not met."""
        if self.met is None:
            return f"{self.label} not measured"
        bound = self.goal.split(" ", 1)[-1]
        sign = "<" if self.goal.startswith(">=") else ">"
        return f"{self.label} {format_score(self.value)} {sign} {bound}"


@dataclass(frozen=True)
class Verdict:
    rows: tuple[GoalRow, ...]

    @property
    def met(self) -> list[GoalRow]:
        return [r for r in self.rows if r.met is True]

    @property
    def missed(self) -> list[GoalRow]:
        return [r for r in self.rows if r.met is False]

    @property
    def not_measured(self) -> list[GoalRow]:
        return [r for r in self.rows if r.met is None]

    @property
    def all_met(self) -> bool:
        return len(self.met) == len(self.rows)

    def summary(self) -> str:
        """One plain line: ``the model misses 3 of 8 goals (exact skill 0.40 < 0.85, ...)``."""
        total = len(self.rows)
        unmeasured = ", ".join(r.label for r in self.not_measured)
        if self.missed:
            why = ", ".join(r.shortfall for r in self.missed)
            line = f"the model misses {len(self.missed)} of {total} goals ({why})"
            return f"{line}; not measured: {unmeasured}" if unmeasured else line
        if unmeasured:
            return f"the model meets {len(self.met)} of {total} goals (not measured: {unmeasured})"
        return f"the model meets all {total} goals"

    def as_dict(self) -> dict[str, Any]:
        return {"goals": [r.as_dict() for r in self.rows], "met": [r.key for r in self.met],
                "missed": [r.key for r in self.missed], "not_measured": [r.key for r in self.not_measured],
                "verdict": self.summary()}


def goal_rows(report: EvalReport, baseline: EvalReport | None = None,
              goals: Sequence[Goal] = GOALS) -> list[GoalRow]:
    """One row per goal: the model's figure, the base model's beside it, the bound and whether it is met."""
    return [GoalRow(key=g.key, label=g.label, value=g.read(report),
                    baseline=g.read(baseline) if baseline is not None else None,
                    goal=g.goal_text, met=g.met_by(g.read(report))) for g in goals]


def judge(report: EvalReport, baseline: EvalReport | None = None, goals: Sequence[Goal] = GOALS) -> Verdict:
    return Verdict(tuple(goal_rows(report, baseline, goals)))


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def mark(met: bool | None) -> str:
    """The ok column: met, missed, or not measured."""
    return "-" if met is None else ("✓" if met else "✗")


TABLE_HEADER = ("score", "this model", "base", "goal", "ok")


def table_lines(rows: Sequence[GoalRow], *, indent: str = "") -> list[str]:
    """The goals as an aligned plain-text table (score | this model | base | goal | ok)."""
    cells = [TABLE_HEADER] + [(r.label, format_score(r.value), format_score(r.baseline), r.goal, mark(r.met))
                              for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(TABLE_HEADER))]
    lines = []
    for row in cells:
        label, *figures = row
        # Labels left, figures right-aligned so decimals line up; the ok mark last.
        parts = [label.ljust(widths[0])] + [f.rjust(widths[i + 1]) for i, f in enumerate(figures[:-1])]
        parts.append(figures[-1])
        lines.append(indent + "  ".join(parts).rstrip())
    return lines


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
