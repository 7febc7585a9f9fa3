from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dndtune.dataset.chat import Message, tools
from dndtune.evaluate import EvalOptions, JudgeItem, JudgeVerdict, evaluate
from dndtune.evaluate.examples import EvalExample
from dndtune.evaluate.regression import load_cases
from dndtune.evaluate.render import ChatRenderer
from dndtune.evaluate.runner import Generation, GenerationSettings
from dndtune.events import ListSink
from dndtune.models.profiles import get_profile
from tests.evaluate.models import TinyModels
from tests.evaluate.samples import quiet_conversation, roll_conversation
from tests.evaluate.scripted import ScriptedRunner, qwen_call

EXAMPLES = [EvalExample(messages=roll_conversation(), tools=tools(), source="eval.jsonl:1"),
            EvalExample(messages=quiet_conversation(), tools=tools(), source="eval.jsonl:2")]


def good_dm(messages: Sequence[Message]) -> str:
    last = messages[-1]
    if last["role"] == "tool":
        return "Mira notices two skeletons waiting beyond the door."
    if "listens" in str(last["content"]):
        return "Mira presses her ear to the door." + qwen_call("perception", "Mira")
    return "Grey light falls across the empty pews of the chapel."


def bad_dm(messages: Sequence[Message]) -> str:
    last = messages[-1]
    if last["role"] == "tool":
        return "Mira fails to hear anything at all."
    return "As an AI, I roll." + qwen_call("stealth", "Legolas")


class LengthJudge:
    name = "length"

    def judge(self, item: JudgeItem) -> JudgeVerdict:
        return JudgeVerdict(score=min(1.0, len(item.reply) / 100))


def test_a_good_dm_scores_perfectly() -> None:
    report = evaluate(ScriptedRunner(good_dm), EXAMPLES, options=EvalOptions(regression=False))
    h = report.headline()
    assert report.data.turns == 4 and report.data.evaluated_turns == 4
    assert (h["recall"], h["precision"], h["exact_skill"], h["json_validity"]) == (1.0, 1.0, 1.0, 1.0)
    assert h["consistency"] == 1.0 and h["in_role_rate"] == 1.0 and h["stop_rate"] == 1.0
    assert h["perplexity"] == pytest.approx(2.718281828, rel=1e-6)
    assert report.tool_calls.character_accuracy == 1.0
    assert report.judges["rules"] > 0.8
    assert report.perf.tokens_per_second is not None


def test_a_bad_dm_is_caught_on_every_axis() -> None:
    report = evaluate(ScriptedRunner(bad_dm), EXAMPLES, options=EvalOptions(regression=False))
    t, q = report.tool_calls, report.quality
    assert t.recall == 1.0 and t.precision == pytest.approx(1 / 3) and t.exact_skill == 0.0
    assert report.consistency.contradicted == 1 and report.consistency.consistency == 0.0
    assert q.ooc_rate == pytest.approx(3 / 4) and q.foreign_roller_rate == pytest.approx(3 / 4)
    assert q.in_role_rate == pytest.approx(1 / 4)


def test_plugged_in_judges_and_samples_and_events() -> None:
    sink = ListSink()
    report = evaluate(ScriptedRunner(good_dm), EXAMPLES, events=sink,
                      options=EvalOptions(regression=False, judges=(LengthJudge(),), samples=2, max_turns=3))
    assert set(report.judges) == {"length"}
    assert report.data.turns == 3 and len(report.samples) == 2
    assert report.samples[0].expected_calls == ["perception (Mira)"]
    assert sink.kinds()[0] == "stage.start" and sink.kinds()[-1] == "stage.done"


class GemmaTemplateRunner(ScriptedRunner):
    """Renders with the Gemma 3 template first, as a Gemma GGUF would."""

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        profile = get_profile("gemma-3-270m")
        ChatRenderer(profile.chat_template, bos_token="<bos>", eos_token="<eos>").render(
            messages, tools, add_generation_prompt=True)
        return super().generate(messages, tools, settings)


def test_turns_the_template_rejects_are_counted_not_crashed() -> None:
    # The sample scenarios open with DM narration; Gemma's template wants a user turn first.
    opening = EvalExample(messages=[roll_conversation()[0], {"role": "assistant", "content": "Welcome."},
                                    *roll_conversation()[1:3]], tools=tools(), source="x")
    sink = ListSink()
    report = evaluate(GemmaTemplateRunner(good_dm), [opening], events=sink, options=EvalOptions(regression=False))
    assert report.data.turns == 1 and report.data.evaluated_turns == 0
    assert report.data.skipped == {"chat template rejects the conversation": 1}
    assert "eval.skipped" in sink.kinds()


def test_end_to_end_on_the_tiny_gguf(tiny: TinyModels) -> None:
    from dndtune.evaluate.llama_runner import LlamaCppRunner

    runner = LlamaCppRunner(tiny.gguf)
    report = evaluate(runner, EXAMPLES, options=EvalOptions(max_tokens=8, regression_cases=load_cases()[:3]))
    runner.close()
    assert report.model.sha256 and report.model.quant == "F16"
    assert report.data.evaluated_turns == 4
    assert report.quality.perplexity is not None and report.quality.perplexity > 1
    assert report.quality.scored_tokens > 0
    assert report.regression is not None and len(report.regression.cases) == 3
    assert report.perf.tokens_per_second is not None and report.perf.tokens_per_second > 0
    assert report.grammar == "applied"


class SettingsRecorder(ScriptedRunner):
    def __init__(self) -> None:
        super().__init__(good_dm)
        self.settings: list[GenerationSettings] = []

    def generate(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                 settings: GenerationSettings) -> Generation:
        self.settings.append(settings)
        return super().generate(messages, tools, settings)


def test_replies_are_asked_for_under_the_roll_grammar_and_the_report_says_so() -> None:
    from dndtune.models.grammar import reply_grammar, roll_grammar

    runner = SettingsRecorder()
    report = evaluate(runner, EXAMPLES, options=EvalOptions(max_tokens=8, regression_cases=load_cases()[:2]))
    assert len(runner.settings) == 4 + 2
    assert {s.grammar for s in runner.settings} == {roll_grammar(runner.profile)}
    assert report.grammar == "not applied"  # the scripted runtime, like transformers, has no grammar sampler

    untooled = [EvalExample(messages=quiet_conversation(), tools=[], source="eval.jsonl:3")]
    runner = SettingsRecorder()
    evaluate(runner, untooled, options=EvalOptions(max_tokens=8, regression=False))
    assert runner.settings[0].grammar == reply_grammar(runner.profile, [])

    runner = SettingsRecorder()
    report = evaluate(runner, EXAMPLES, options=EvalOptions(max_tokens=8, grammar=False,
                                                            regression_cases=load_cases()[:2]))
    assert {s.grammar for s in runner.settings} == {None} and report.grammar == "off"


def test_every_reply_is_asked_for_from_its_own_prompt_alone() -> None:
    """Held-out turns and the regression suite alike: no prefix carried over from what ran before, so
    perplexity scoring between turns (or another evaluation before this one) cannot change a reply."""
    runner = SettingsRecorder()
    evaluate(runner, EXAMPLES, options=EvalOptions(max_tokens=8, regression_cases=load_cases()[:2]))
    assert runner.settings and {s.repeatable for s in runner.settings} == {True}
