"""The regression suite: fixed prompts whose tool-call behaviour must not regress between versions.

The cases live in ``regression_prompts.yaml`` beside this module (shipped with the package). Each
is a short scene built in the training format; a case *passes* when the reply calls ``roll``
with the expected skill (and character, when the case names one) in a block the app accepts,
or, for ``call: false`` cases, opens no tool-call block at all. :func:`regressions` lists the
cases that passed for an older version and fail for a newer one: those are the regressions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from dndtune.dataset.chat import Message, message, system_prompt, tool_call, tools
from dndtune.evaluate.examples import ExpectedCall
from dndtune.evaluate.runner import GenerationSettings, ModelRunner
from dndtune.evaluate.toolcalls import check_turn, same_character
from dndtune.scenario.models import RollRequest, SystemContext

PROMPTS_FILE = "regression_prompts.yaml"


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call: bool
    skill: str | None = None
    character: str | None = None


class RegressionCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    system: SystemContext
    user: str
    dm: str | None = None
    """A DM turn that already asked for rolls (with ``calls``), followed by ``results``."""
    calls: list[dict[str, str]] = Field(default_factory=list)
    results: list[dict[str, Any]] = Field(default_factory=list)
    expect: Expectation

    def messages(self) -> list[Message]:
        out = [message("system", system_prompt(self.system)), message("user", self.user)]
        if self.dm is not None:
            calls = [tool_call(RollRequest(skill=c["skill"], character=c.get("character")), None) for c in self.calls]
            out.append(message("assistant", self.dm, tool_calls=calls or None))
            out.extend(message("tool", _json(r), name="roll") for r in self.results)
        return out


class CaseResult(BaseModel):
    id: str
    passed: bool
    reason: str
    reply: str


class RegressionReport(BaseModel):
    cases: list[CaseResult] = Field(default_factory=list)
    passed: int = 0
    pass_rate: float | None = None

    def by_id(self) -> dict[str, CaseResult]:
        return {c.id: c for c in self.cases}


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


def load_cases(text: str | None = None) -> list[RegressionCase]:
    """The shipped cases (or the cases in ``text``, a YAML document of the same shape)."""
    if text is None:
        text = resources.files("dndtune.evaluate").joinpath(PROMPTS_FILE).read_text("utf-8")
    data = yaml.safe_load(text)
    return [RegressionCase.model_validate(raw) for raw in data["cases"]]


def judge_case(case: RegressionCase, reply: str, runner: ModelRunner) -> CaseResult:
    expected = ([ExpectedCall(case.expect.skill, case.expect.character)]
                if case.expect.call and case.expect.skill else [])
    check = check_turn(reply, expected, runner.profile, tools())
    if not case.expect.call:
        passed = not check.called
        reason = "no tool call, as expected" if passed else "called a tool where none is wanted"
    elif not check.called:
        passed, reason = False, "no tool call"
    elif not check.valid:
        passed, reason = False, "tool call the app would reject"
    elif check.skill_matches < len(expected):
        got = ", ".join(p.skill or "?" for p in check.predicted)
        passed, reason = False, f"wrong skill ({got}, expected {case.expect.skill})"
    elif case.expect.character and not any(
            same_character(case.expect.character, p.character) for p in check.predicted if p.valid):
        passed, reason = False, f"wrong character (expected {case.expect.character})"
    else:
        passed, reason = True, "right tool call"
    return CaseResult(id=case.id, passed=passed, reason=reason, reply=reply)


def run_suite(runner: ModelRunner, settings: GenerationSettings,
              cases: Sequence[RegressionCase] | None = None) -> RegressionReport:
    results: list[CaseResult] = []
    schema = tools()
    for case in cases if cases is not None else load_cases():
        generation = runner.generate(case.messages(), schema, settings)
        results.append(judge_case(case, generation.text, runner))
    passed = sum(r.passed for r in results)
    return RegressionReport(cases=results, passed=passed, pass_rate=passed / len(results) if results else None)


def regressions(before: RegressionReport, after: RegressionReport) -> list[str]:
    """Ids of cases that passed ``before`` and fail ``after``."""
    now = after.by_id()
    return [c.id for c in before.cases if c.passed and c.id in now and not now[c.id].passed]
