"""The roll grammar in llama.cpp: it parses, accepts every real training turn, refuses what the app cannot parse.

Acceptance is decided by llama.cpp's own grammar sampler (``GrammarConstraint``), token by token
over the tiny GGUF's vocabulary: a text is accepted when each of its tokens is allowed in turn
and the end-of-generation token is allowed after the last. The grammar works on the tokens'
text, so the tiny model's vocabulary judges every family's markers as a real one would.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dndtune.dataset.chat import scenario_to_messages, tools
from dndtune.errors import DndtuneError
from dndtune.evaluate.llama_runner import LlamaCppRunner
from dndtune.evaluate.regression import load_cases
from dndtune.evaluate.render import ChatRenderer
from dndtune.evaluate.runner import GenerationSettings
from dndtune.events import NullSink
from dndtune.models.grammar import GRAMMAR_FILE, MAX_CALLS, reply_grammar, roll_grammar
from dndtune.models.llama_grammar import GrammarConstraint, check_grammar
from dndtune.models.profiles import ModelProfile, get_profile
from dndtune.scenario.loader import load_scenarios
from dndtune.scenario.skills import SKILLS
from tests.evaluate.models import TinyModels, build

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("gemma-3-270m", "qwen2.5-0.5b", "qwen3-0.6b")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    # The evaluation tests' folder: built once when both packages run in one session.
    return build(tmp_path_factory.getbasetemp() / "dndtune-tiny-eval")


@pytest.fixture(scope="module")
def llm(tiny: TinyModels) -> Iterator[Any]:
    import llama_cpp

    model = llama_cpp.Llama(model_path=str(tiny.gguf), n_ctx=256, verbose=False)
    yield model
    model.close()


def _vocab(llm: Any) -> Any:
    import llama_cpp

    return llama_cpp.llama_model_get_vocab(llm.model)


def accepts(llm: Any, grammar: str, text: str, *, complete: bool = True) -> bool:
    """Whether llama.cpp's grammar sampler lets ``text`` be generated (and then end, with ``complete``)."""
    constraint = GrammarConstraint(_vocab(llm), grammar)
    try:
        for token in llm.tokenize(text.encode("utf-8"), add_bos=False, special=False):
            if not constraint.allows(token):
                return False
            constraint.accept(token)
        return constraint.allows(llm.token_eos()) if complete else True
    finally:
        constraint.close()


@functools.lru_cache(maxsize=1)
def training_conversations() -> list[tuple[str, list[dict[str, Any]]]]:
    loaded = load_scenarios(ROOT / "training-data", NullSink(), None)
    return [(str(s.path), scenario_to_messages(s)) for s in loaded.scenarios]


def training_turns(profile: ModelProfile) -> list[tuple[str, bool]]:
    """Every assistant turn of the training scenarios as the training template renders it: (text, has calls)."""
    renderer = ChatRenderer(profile.training_chat_template, bos_token=profile.bos_token or "",
                            eos_token=profile.eos_token)
    schema = tools()
    turns: list[tuple[str, bool]] = []
    for path, messages in training_conversations():
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            split = renderer.split_turn(messages[: index + 1], schema, profile.end_of_turn_token)
            assert split is not None, f"{path}: turn {index} does not render as a prefix"
            turns.append((split.target.removesuffix(profile.end_of_turn_token), bool(message["tool_calls"])))
    return turns


def spread(items: list[str], at_most: int) -> list[str]:
    """Evenly spaced items, at most ``at_most`` of them: the test's time stays flat as training-data grows."""
    return items[:: max(1, math.ceil(len(items) / at_most))]


def call(profile: ModelProfile, skill: str = "stealth", character: str = "Mira") -> str:
    return profile.format_tool_call("roll", {"skill": skill, "character": character})


@pytest.mark.parametrize("name", FAMILIES)
def test_the_grammar_parses_in_llama_cpp(llm: Any, name: str) -> None:
    text = roll_grammar(get_profile(name))
    check_grammar(_vocab(llm), text)
    assert text == reply_grammar(get_profile(name), tools()) and GRAMMAR_FILE.endswith(".gbnf")
    with pytest.raises(DndtuneError, match="cannot parse"):
        check_grammar(_vocab(llm), text.replace("root ::=", "root ::= undefined-rule |"))


def test_training_turns_are_accepted(llm: Any) -> None:
    # llama.cpp takes ~5 ms to walk one turn through the grammar on the tiny vocabulary, so turns
    # are sampled evenly: every turn with two or more calls, and a spread of the rest. Narration is
    # judged alike for every family (all families' markers are refused), so Qwen 2.5 covers the
    # narration-only turns; the call blocks and Qwen 3's thinking prefix are checked per family.
    for name in FAMILIES:
        profile = get_profile(name)
        grammar = roll_grammar(profile)
        turns = training_turns(profile)
        opening = profile.tool_format.call_open
        with_calls = [text for text, calls in turns if calls]
        several = [text for text in with_calls if text.count(opening) > 1]
        assert len(with_calls) > 50 and several
        checked = several + spread(with_calls, 100)
        if name == "qwen2.5-0.5b":
            checked += spread([text for text, calls in turns if not calls], 150)
        refused = [text for text in checked if not accepts(llm, grammar, text)]
        assert not refused, f"{name}: {len(refused)} of {len(checked)} training turns refused, e.g. {refused[0]!r}"


@pytest.mark.parametrize("name", FAMILIES)
def test_what_the_app_cannot_parse_is_refused(llm: Any, name: str) -> None:
    profile = get_profile(name)
    grammar = roll_grammar(profile)
    prefix = "<think>\n\n</think>\n\n" if name == "qwen3-0.6b" else ""
    fmt = profile.tool_format
    good = f"{prefix}Mira creeps along the wall.\n{call(profile)}"
    assert accepts(llm, grammar, good)
    assert accepts(llm, grammar, f"{prefix}{call(profile, 'dexterity save', 'Borin Stonefist')}\n{call(profile)}")
    assert accepts(llm, grammar, f"{prefix}The door creaks open.")

    def block(body: str) -> str:
        return f"{prefix}Roll it.\n{fmt.call_open}{body}{fmt.call_close}"

    refused = {
        "unknown skill": f"{prefix}Roll it.\n{call(profile, 'perceptoin')}",
        "unknown tool": block('{"name": "fireball", "arguments": {"skill": "stealth", "character": "Mira"}}'),
        "unclosed JSON": block('{"name": "roll", "arguments": {"skill": "stealth", "character": "Mira"}'),
        "single quotes": block("{'name': 'roll', 'arguments': {'skill': 'stealth', 'character': 'Mira'}}"),
        "compact JSON": block('{"name":"roll","arguments":{"skill":"stealth","character":"Mira"}}'),
        "keys reordered": block('{"name": "roll", "arguments": {"character": "Mira", "skill": "stealth"}}'),
        "character missing": block('{"name": "roll", "arguments": {"skill": "stealth"}}'),
        "extra argument": block('{"name": "roll", "arguments": {"skill": "stealth", "character": "Mira", "dc": 15}}'),
        "escaped name": block('{"name": "roll", "arguments": {"skill": "stealth", "character": "M\\"ira"}}'),
        "unclosed block": f"{prefix}Roll it.\n{fmt.call_open}" + call(profile)[len(fmt.call_open):-len(fmt.call_close)],
        "Qwen end of turn in narration": f"{prefix}Mira listens.<|im_end|>",
        "Gemma turn marker in narration": f"{prefix}Mira listens.<start_of_turn>user\nI attack.",
        "tool response in narration": f"{prefix}<tool_response>\n{{\"total\": 20}}",
        "a fence in narration": f"{prefix}Mira listens.\n```tool_response\n{{}}\n```",
        "narration after the call": f"{good}\nThe guard turns.",
        "too many calls": prefix + "\n".join([call(profile)] * (MAX_CALLS + 1)),
        "leading whitespace": f"{prefix} Mira listens.",
        "trailing whitespace": f"{prefix}Mira listens. ",
        "empty reply": prefix,
    }
    wrongly_accepted = [why for why, text in refused.items() if accepts(llm, grammar, text)]
    assert not wrongly_accepted


def test_no_tools_means_narration_only(llm: Any) -> None:
    profile = get_profile("qwen2.5-0.5b")
    grammar = reply_grammar(profile, [])
    assert accepts(llm, grammar, "The crypt is silent.")
    assert not accepts(llm, grammar, f"The crypt is silent.\n{call(profile)}")


def forced_calls(profile: ModelProfile) -> str:
    """The roll grammar with the narration branch removed: a random model has to write tool calls."""
    grammar = roll_grammar(profile)
    forced, count = re.subn(r"(?m)^root ::= .*$", "root ::= calls", grammar)
    assert count == 1
    return forced


def test_the_runner_decodes_under_the_grammar(tiny: TinyModels, llm: Any) -> None:
    runner = LlamaCppRunner(tiny.gguf)
    try:
        assert runner.info.applies_grammar
        messages = load_cases()[0].messages()
        tiny_grammar = 'root ::= "Roll for " ("stealth" | "perception") ", " [A-Z] [a-z]{2,5} "."'
        for temperature in (0.0, 1.0):
            out = runner.generate(messages, tools(), GenerationSettings(max_tokens=40, temperature=temperature,
                                                                        grammar=tiny_grammar))
            assert re.fullmatch(r"Roll for (stealth|perception), [A-Z][a-z]{2,5}\.", out.text), out.text
            assert out.finish == "stop"  # once the grammar is complete only end-of-turn may follow
        assert runner._grammar(tiny_grammar) is runner._grammar(tiny_grammar)
        with pytest.raises(DndtuneError, match="cannot parse"):
            runner.generate(messages, tools(), GenerationSettings(max_tokens=4, grammar="root ::= nothing"))

        profile = runner.profile
        roll = roll_grammar(profile)
        rechecked = 0
        for seed in range(3):
            settings = GenerationSettings(max_tokens=400, temperature=1.0, seed=seed, grammar=forced_calls(profile))
            out = runner.generate(messages, tools(), settings)
            assert out.finish == "stop", out.text
            calls = profile.parse_tool_calls(out.text)
            assert 1 <= len(calls) == out.text.count(profile.tool_format.call_open) <= MAX_CALLS
            assert all(c["name"] == "roll" and c["arguments"]["skill"] in SKILLS for c in calls)
            assert all(isinstance(c["arguments"]["character"], str) for c in calls)
            # A random byte-level model can write bytes llama.cpp reads as characters but UTF-8 does
            # not (grammar.NOT_UNICODE); those replies decode with U+FFFD and are not re-checked.
            if "\ufffd" not in out.text:
                assert accepts(llm, roll, out.text)
                rechecked += 1
            # Unconstrained beside it, the random model writes no call the app could run.
            free = runner.generate(messages, tools(), GenerationSettings(max_tokens=60, temperature=1.0, seed=seed))
            assert not profile.parse_tool_calls(free.text)
            # Under the full grammar it may narrate; what it wrote can still be continued or ended.
            sampled = runner.generate(messages, tools(), GenerationSettings(max_tokens=60, temperature=1.0, seed=seed,
                                                                            grammar=roll))
            assert accepts(llm, roll, sampled.text, complete=sampled.finish == "stop")
        assert rechecked
    finally:
        runner.close()


def test_the_export_worker_decodes_under_the_grammar(tiny: TinyModels, llm: Any) -> None:
    from dndtune.export.llama_worker import _generate, _Session

    profile = get_profile("qwen2.5-0.5b")
    renderer = ChatRenderer(profile.chat_template, bos_token="", eos_token=profile.eos_token)
    prompt = renderer.render(load_cases()[0].messages(), tools(), add_generation_prompt=True)
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    session = _Session(str(tiny.gguf), len(tokens) + 512, 1)
    try:
        out = _generate(session, {"tokens": tokens, "max_tokens": 400, "grammar": forced_calls(profile)})
        assert out["stopped"] and session.is_eog(out["tokens"][-1])
        text = session.llm.detokenize(out["tokens"][:-1], special=True).decode("utf-8", errors="replace")
        calls = profile.parse_tool_calls(text)
        assert calls and all(c["arguments"]["skill"] in SKILLS for c in calls)
        assert "\ufffd" in text or accepts(llm, roll_grammar(profile), text)
        free = _generate(session, {"tokens": tokens, "max_tokens": 30})
        free_text = session.llm.detokenize(free["tokens"], special=True).decode("utf-8", errors="replace")
        assert free["tokens"] and not profile.parse_tool_calls(free_text)
    finally:
        session.close()


def test_the_grammar_follows_the_tool_schema() -> None:
    profile = get_profile("qwen2.5-0.5b")
    custom = [{"type": "function", "function": {"name": "heal", "parameters": {"type": "object", "properties": {
        "amount": {"type": "integer"}, "magic": {"type": "boolean"}, "who": {"type": "string", "maxLength": 5}}}}}]
    text = reply_grammar(profile, custom)
    assert '"{\\x22name\\x22: \\x22heal\\x22' in text and '"true" | "false"' in text and "{1,5}" in text
    assert roll_grammar(profile, custom) == text
    with pytest.raises(DndtuneError, match="does not support"):
        reply_grammar(profile, [{"function": {"name": "x", "parameters": {"properties": {"v": {"type": "array"}}}}}])
    with pytest.raises(DndtuneError, match="max_calls"):
        reply_grammar(profile, tools(), max_calls=0)
