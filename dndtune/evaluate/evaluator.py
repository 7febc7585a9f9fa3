"""The evaluation loop: run a model on every held-out DM turn and score what it wrote.

For each DM turn of each conversation the runner generates a reply from the conversation so
far; the reply is scored for tool calls (:mod:`.toolcalls`), use of the roll result
(:mod:`.consistency`), hygiene, role and coherence (:mod:`.quality`) and by every plugged-in
judge (:mod:`.judge`). The runner also scores the reference turn's tokens for perplexity, and the
regression suite (:mod:`.regression`) runs on the same model. Nothing here is estimated: every
figure comes from the model's own output on this machine.

By default replies are decoded under the roll grammar the deploy bundle ships
(:func:`dndtune.models.grammar.roll_grammar`), so a GGUF is scored as the app will run it; the
report says whether it was applied, so runs with and without it can be compared.
"""

from __future__ import annotations

import platform
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import tools
from dndtune.evaluate import consistency, quality, toolcalls
from dndtune.evaluate.examples import DmTurn, EvalExample, ExpectedCall, dm_turns
from dndtune.evaluate.judge import Judge, JudgeItem, RuleJudge
from dndtune.evaluate.regression import RegressionCase, run_suite
from dndtune.evaluate.render import TemplateRejected
from dndtune.evaluate.report import DataInfo, EvalReport, GrammarState, ModelInfo, PerfScores, Sample
from dndtune.evaluate.runner import Generation, GenerationSettings, ModelRunner, PromptTooLong
from dndtune.events import EvalNothingRun, EvalProgress, EventSink, NullSink, StageDone, StageStarted
from dndtune.hashing import sha256_file
from dndtune.models.grammar import roll_grammar

STAGE = "evaluate"


@dataclass(frozen=True)
class EvalOptions:
    max_tokens: int = 200
    """Reply budget per turn; a reply that needs more counts as a runaway."""
    max_turns: int | None = None
    """Evaluate only the first N DM turns (quick checks); None: all of them."""
    samples: int = 6
    """Replies kept in the report for ``models compare`` and for reading."""
    regression: bool = True
    regression_cases: Sequence[RegressionCase] | None = None
    """None: the shipped suite."""
    perplexity: bool = True
    judges: Sequence[Judge] = field(default_factory=lambda: (RuleJudge(),))
    grammar: bool = True
    """Constrain replies to the roll grammar (:func:`~dndtune.models.grammar.roll_grammar`) where the
    runtime supports it (llama.cpp); False measures the model unconstrained."""


def grammar_state(options: EvalOptions, runner: ModelRunner) -> GrammarState:
    """What the report records: ``applied``, ``not applied`` (the runtime has no grammar sampler) or ``off``."""
    if not options.grammar:
        return "off"
    return "applied" if runner.info.applies_grammar else "not applied"


def _with_grammar(settings: GenerationSettings, options: EvalOptions, runner: ModelRunner,
                  tools: Sequence[Mapping[str, Any]] | None) -> GenerationSettings:
    if not options.grammar:
        return settings
    # No tools offered: the grammar allows narration only, as the template would render the turn.
    return replace(settings, grammar=roll_grammar(runner.profile, tools or []))


def _model_info(runner: ModelRunner) -> ModelInfo:
    info = runner.info
    path = Path(info.path)
    return ModelInfo(label=info.label, kind=info.kind, path=info.path, family=info.family, quant=info.quant,
                     size_bytes=info.size_bytes, context_length=info.context_length,
                     sha256=sha256_file(path) if path.is_file() else None)


def _last_input(turn: DmTurn) -> str:
    for message in reversed(turn.prompt):
        if message.get("role") in ("user", "tool"):
            return str(message.get("content") or "")
    return ""


def _call_strings(calls: Sequence[ExpectedCall | toolcalls.PredictedCall]) -> list[str]:
    return [f"{c.skill} ({c.character})" if c.character else str(c.skill) for c in calls]


def _sample_indices(total: int, wanted: int) -> set[int]:
    if wanted <= 0 or total == 0:
        return set()
    step = max(1, total // wanted)
    return set(range(0, total, step)[:wanted])


def evaluate(runner: ModelRunner, examples: Sequence[EvalExample], *, options: EvalOptions | None = None,
             events: EventSink | None = None, source: str = "") -> EvalReport:
    """Evaluate one model on ``examples`` and return its report (nothing is written)."""
    options = options or EvalOptions()
    events = events or NullSink()
    # Each reply from its own prompt alone: the same file scores the same whatever else this
    # evaluation runs between turns (perplexity scoring, the regression suite) or ran before.
    settings = GenerationSettings(max_tokens=options.max_tokens, repeatable=True)
    turns = [t for example in examples for t in dm_turns(example)]
    if options.max_turns is not None:
        turns = turns[: options.max_turns]
    label = runner.info.label
    events.emit(StageStarted(stage=STAGE, message=f"evaluating {label} on {len(turns)} DM turn(s)"))
    picks = _sample_indices(len(turns), options.samples)
    skipped: Counter[str] = Counter()
    call_checks: list[toolcalls.CallCheck] = []
    outcome_checks: list[consistency.OutcomeCheck] = []
    hygienes: list[quality.HygieneCheck] = []
    roles: list[quality.RoleCheck] = []
    coherences: list[quality.Coherence | None] = []
    judge_scores: dict[str, list[float]] = {j.name: [] for j in options.judges}
    generations: list[Generation] = []
    samples: list[Sample] = []
    nll_sum, nll_tokens, scored_turns = 0.0, 0, 0

    for number, turn in enumerate(turns):
        example_tools = turn.example.tools
        try:
            generation = runner.generate(turn.prompt, example_tools,
                                         _with_grammar(settings, options, runner, example_tools))
        except TemplateRejected:
            skipped["chat template rejects the conversation"] += 1
            continue
        except PromptTooLong:
            skipped["longer than the context window"] += 1
            continue
        generations.append(generation)
        text = generation.text
        check = toolcalls.check_turn(text, turn.expected_calls, runner.profile, example_tools)
        call_checks.append(check)
        outcome = consistency.judge_reply(text, turn.results)
        outcome_checks.append(outcome)
        hygienes.append(quality.hygiene(text, generation.tokens, generation.finish, has_calls=check.called))
        roles.append(quality.role_check(text, turn.context_text, turn.party,
                                        (p.character for p in check.predicted if p.valid)))
        coherences.append(quality.coherence(text, turn.conversation_text))
        item = JudgeItem(context=turn.prompt, reply=text, reference=turn.reference_text, results=turn.results,
                         party=tuple(turn.party))
        for judge in options.judges:
            judge_scores[judge.name].append(judge.judge(item).score)
        if options.perplexity:
            scored = runner.score([*turn.prompt, turn.reference], example_tools)
            if scored is not None:
                nll_sum += scored.nll
                nll_tokens += scored.tokens
                scored_turns += 1
        if number in picks:
            samples.append(Sample(source=turn.example.source, turn=turn.index, prompt=_last_input(turn),
                                  reference=turn.reference_text, reply=text,
                                  expected_calls=_call_strings(turn.expected_calls),
                                  predicted_calls=_call_strings(check.predicted),
                                  outcome=outcome.verdict if outcome.verdict != "not_applicable" else None))
        events.emit(EvalProgress(done=number + 1, total=len(turns)))

    if turns and not generations:
        reasons = ", ".join(f"{n} {why}" for why, n in skipped.items())
        events.emit(EvalNothingRun(message=f"no DM turn could be run ({reasons})"))
    regression = None
    if options.regression:
        # The suite offers the dataset's tools (regression.run_suite), so its grammar is theirs.
        regression = run_suite(runner, _with_grammar(settings, options, runner, tools()), options.regression_cases)
    speeds = [s for s in (g.tokens_per_second for g in generations) if s is not None]
    info = runner.info
    report = EvalReport(
        model=_model_info(runner),
        data=DataInfo(source=source, conversations=len(examples), turns=len(turns),
                      evaluated_turns=len(generations), skipped=dict(skipped)),
        max_tokens=options.max_tokens,
        grammar=grammar_state(options, runner),
        tool_calls=toolcalls.summarize(call_checks),
        consistency=consistency.summarize(outcome_checks),
        quality=quality.summarize(hygienes, roles, coherences, nll_sum, nll_tokens, scored_turns),
        judges={name: sum(v) / len(v) for name, v in judge_scores.items() if v},
        perf=PerfScores(
            tokens_per_second=statistics.median(speeds) if speeds else None,
            mean_reply_seconds=statistics.fmean(g.seconds for g in generations) if generations else None,
            load_seconds=info.load_seconds, rss_bytes=info.rss_bytes,
            machine=f"{platform.machine()} {platform.system()}",
        ),
        regression=regression,
        samples=samples,
    )
    events.emit(StageDone(stage=STAGE, message=f"evaluated {label}"))
    return report
