"""The deployed-model integration suite: load it, check its chat template, ask for a roll, time it.

Runs against every runtime found: llama.cpp always (the GGUF, as Cactus's older SDKs load it),
and the Cactus engine when ``CACTUS_LIB_PATH`` points at ``libcactus_engine`` and converted
weights exist. Each check is measured on the real file; none is assumed.

Checks, in order:

- ``load``: the runtime loads the model (seconds, resident memory added).
- ``chat_template``: the model carries a template that renders the ``roll`` tool, a tool call
  in the family's format and a tool result (llama.cpp only: the Cactus engine renders inside).
- ``roll_tool_call``: on the regression suite's prompts that want a roll, the model answers at
  least one with a ``roll`` call the app accepts (how many is recorded).
- ``stops``: the replies end at the end-of-turn token rather than at the token limit.
- ``speed``: decode tokens/s and memory of a 64-token generation.

Replies are decoded under the roll grammar the bundle ships (``roll.gbnf``) where the runtime
applies one (llama.cpp), as the app decodes them; each runtime's report says whether it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import message, tools
from dndtune.deploy.cactus_engine import CactusRunner, engine_library
from dndtune.evaluate.examples import ExpectedCall
from dndtune.evaluate.llama_runner import LlamaCppRunner
from dndtune.evaluate.regression import load_cases
from dndtune.evaluate.runner import GenerationSettings, ModelRunner
from dndtune.evaluate.toolcalls import check_turn
from dndtune.models.grammar import roll_grammar
from dndtune.models.profiles import ModelProfile

MAX_ROLL_PROMPTS = 4
REPLY_TOKENS = 96


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    required: bool = True


@dataclass(frozen=True)
class RuntimeReport:
    runtime: str
    model: str
    checks: tuple[CheckResult, ...]
    tokens_per_second: float | None = None
    rss_bytes: int | None = None
    load_seconds: float | None = None
    grammar: str = "not applied"
    """``applied`` when the replies were decoded under the bundle's roll grammar."""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.required)


@dataclass(frozen=True)
class IntegrationReport:
    runtimes: tuple[RuntimeReport, ...]
    skipped: tuple[str, ...] = field(default=())
    """Runtimes that could not run here, with the reason."""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.runtimes)

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "runtimes": [asdict(r) | {"passed": r.passed} for r in self.runtimes],
                "skipped": list(self.skipped)}


def _template_check(runner: ModelRunner) -> CheckResult:
    renderer = getattr(runner, "renderer", None)
    if renderer is None:
        return CheckResult("chat_template", True, "rendered inside the runtime", required=False)
    fmt = runner.profile.tool_format
    call = {"type": "function", "function": {"name": "roll", "arguments": {"skill": "perception", "character": "Mira"}}}
    conversation = [message("system", "Role: Dungeon Master."), message("user", "I listen at the door."),
                    message("assistant", "Mira listens.", tool_calls=[call]),
                    message("tool", '{"skill": "perception", "total": 14}', name="roll")]
    text = renderer.render(conversation, tools(), add_generation_prompt=True)
    missing = [what for what, marker in (("tool schema", '"name": "roll"'), ("tool call", fmt.call_open.strip()),
                                         ("tool result", fmt.response_open.strip())) if marker not in text]
    if missing:
        return CheckResult("chat_template", False, f"the embedded template does not render: {', '.join(missing)}")
    return CheckResult("chat_template", True, f"renders tools, calls ({fmt.call_open.strip()}) and results")


def run_checks(runner: ModelRunner, runtime: str, *, roll_prompts: int = MAX_ROLL_PROMPTS) -> RuntimeReport:
    """The suite on an already loaded model."""
    info = runner.info
    checks = [CheckResult("load", True, f"loaded in {info.load_seconds or 0:.2f} s, "
                                        f"+{(info.rss_bytes or 0) / 1e6:.0f} MB resident")]
    checks.append(_template_check(runner))
    settings = GenerationSettings(max_tokens=REPLY_TOKENS, grammar=roll_grammar(runner.profile, tools()),
                                  repeatable=True)
    cases = [c for c in load_cases() if c.expect.call][:roll_prompts]
    good = stopped = 0
    speeds: list[float] = []
    for case in cases:
        out = runner.generate(case.messages(), tools(), settings)
        stopped += out.finish == "stop"
        if out.tokens_per_second:
            speeds.append(out.tokens_per_second)
        check = check_turn(out.text, [ExpectedCall(case.expect.skill or "", case.expect.character)],
                           runner.profile, tools())
        good += check.valid > 0 and check.skill_matches > 0
    checks.append(CheckResult("roll_tool_call", good > 0, f"{good}/{len(cases)} roll prompts answered with the "
                                                          "right roll call in a block the app accepts"))
    checks.append(CheckResult("stops", stopped == len(cases),
                              f"{stopped}/{len(cases)} replies ended at the end-of-turn token", required=False))
    speed_out = runner.generate(cases[0].messages(), tools(), replace(settings, max_tokens=64))
    speed = speed_out.tokens_per_second
    checks.append(CheckResult("speed", speed is not None, f"{speed or 0:.1f} tokens/s decode", required=False))
    return RuntimeReport(runtime=runtime, model=info.path, checks=tuple(checks), tokens_per_second=speed,
                         rss_bytes=info.rss_bytes, load_seconds=info.load_seconds,
                         grammar="applied" if info.applies_grammar else "not applied")


def run_suite(gguf: Path | None, cactus_weights: Path | None = None, *, profile: ModelProfile | None = None,
              roll_prompts: int = MAX_ROLL_PROMPTS) -> IntegrationReport:
    """Run the suite on every available runtime for the given files."""

    reports: list[RuntimeReport] = []
    skipped: list[str] = []
    if gguf is not None:
        runner = LlamaCppRunner(gguf)
        try:
            reports.append(run_checks(runner, "llama.cpp", roll_prompts=roll_prompts))
        finally:
            runner.close()
    library = engine_library()
    if cactus_weights is None:
        skipped.append("cactus-engine: no converted Cactus weights in this bundle")
    elif profile is None:
        skipped.append("cactus-engine: the model family is unknown (no merged config.json)")
    elif library is None:
        skipped.append("cactus-engine: CACTUS_LIB_PATH is not set to libcactus_engine (built on macOS arm64 "
                       "or from the Cactus repo); run the suite there")
    else:
        cactus = CactusRunner(cactus_weights, library=library, profile=profile)
        try:
            reports.append(run_checks(cactus, "cactus-engine", roll_prompts=roll_prompts))
        finally:
            cactus.close()
    return IntegrationReport(runtimes=tuple(reports), skipped=tuple(skipped))


def summary_lines(report: IntegrationReport) -> Sequence[str]:
    lines: list[str] = []
    for runtime in report.runtimes:
        lines.append(f"{runtime.runtime}: {'passed' if runtime.passed else 'FAILED'} (grammar: {runtime.grammar})")
        for check in runtime.checks:
            mark = "ok " if check.passed else ("FAIL" if check.required else "warn")
            lines.append(f"  [{mark}] {check.name}: {check.detail}")
    lines.extend(f"skipped {why}" for why in report.skipped)
    return lines
