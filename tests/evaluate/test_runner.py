"""The real runners on a tiny model: one HF folder, the same model as a GGUF in llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.dataset.chat import tools
from dndtune.errors import DndtuneError
from dndtune.evaluate.examples import EvalExample, dm_turns
from dndtune.evaluate.hf_runner import HFRunner
from dndtune.evaluate.llama_runner import LlamaCppRunner
from dndtune.evaluate.open_model import open_runner
from dndtune.evaluate.runner import GenerationSettings, ModelRunner
from tests.evaluate.models import TinyModels
from tests.evaluate.samples import roll_conversation


@pytest.fixture(scope="module")
def runners(tiny: TinyModels) -> dict[str, ModelRunner]:
    return {"gguf": LlamaCppRunner(tiny.gguf), "hf": HFRunner(tiny.hf)}


def test_both_runners_satisfy_the_protocol_and_describe_the_model(runners: dict[str, ModelRunner]) -> None:
    gguf, hf = runners["gguf"], runners["hf"]
    assert isinstance(gguf, ModelRunner) and isinstance(hf, ModelRunner)
    assert gguf.info.kind == "gguf" and gguf.info.quant == "F16" and gguf.info.family == "qwen2"
    assert hf.info.kind == "hf" and hf.info.family == "qwen2"
    assert gguf.profile.tool_format == hf.profile.tool_format


def test_both_render_the_same_prompt(runners: dict[str, LlamaCppRunner | HFRunner]) -> None:
    messages = roll_conversation()[:4]
    texts = {k: r.renderer.render(messages, tools(), add_generation_prompt=True) for k, r in runners.items()}
    assert texts["gguf"] == texts["hf"]
    assert texts["gguf"].endswith("<|im_start|>assistant\n")


def test_gguf_f16_scores_the_reference_turn_like_the_hf_model(runners: dict[str, ModelRunner]) -> None:
    example = EvalExample(messages=roll_conversation(), tools=tools(), source="t")
    for turn in dm_turns(example):
        full = [*turn.prompt, turn.reference]
        gguf, hf = runners["gguf"].score(full, tools()), runners["hf"].score(full, tools())
        assert gguf is not None and hf is not None
        assert gguf.tokens == hf.tokens > 0
        # f16 weights vs fp32: the summed log-likelihoods agree to well under a percent.
        assert gguf.nll == pytest.approx(hf.nll, rel=0.01)


def test_generation_obeys_the_budget_and_reports_speed(runners: dict[str, ModelRunner]) -> None:
    messages = roll_conversation()[:2]
    for runner in runners.values():
        out = runner.generate(messages, tools(), GenerationSettings(max_tokens=12))
        assert out.tokens <= 12
        assert out.finish in ("stop", "length")
        assert (out.finish == "length") == (out.tokens == 12)
        assert out.prompt_tokens > 100 and out.seconds > 0
        assert out.tokens_per_second is None or out.tokens_per_second > 0


def test_greedy_generation_is_deterministic_and_sampling_follows_the_seed(runners: dict[str, ModelRunner]) -> None:
    gguf = runners["gguf"]
    messages = roll_conversation()[:2]
    greedy = [gguf.generate(messages, tools(), GenerationSettings(max_tokens=8)).text for _ in range(2)]
    assert greedy[0] == greedy[1]
    hot = GenerationSettings(max_tokens=8, temperature=1.0, seed=7)
    assert gguf.generate(messages, tools(), hot).text == gguf.generate(messages, tools(), hot).text


def test_a_repeatable_reply_matches_a_freshly_loaded_model_whatever_ran_before(tiny: TinyModels) -> None:
    """Batches of 32 tokens, so the kept prefix spans several whole batches and a partial one is redone."""
    conversation = roll_conversation()
    alone = GenerationSettings(max_tokens=8, repeatable=True)
    fresh = LlamaCppRunner(tiny.gguf, n_batch=32)
    try:
        expected = [fresh.generate(conversation[:k], tools(), alone) for k in (2, 4)]
    finally:
        fresh.close()
    used = LlamaCppRunner(tiny.gguf, n_batch=32)
    try:
        got = [used.generate(conversation[:2], tools(), alone)]
        used.score(conversation, tools())  # the whole conversation into the cache, token by token
        used.generate(conversation[:4], tools(), GenerationSettings(max_tokens=8))  # play's reuse of it
        got.append(used.generate(conversation[:4], tools(), alone))
        got.append(used.generate(conversation[:2], tools(), alone))  # a shorter prompt after a longer one
    finally:
        used.close()
    assert got[1].prompt_tokens > 3 * 32
    assert [(g.text, g.prompt_tokens) for g in got] == [(e.text, e.prompt_tokens) for e in (*expected, expected[0])]


def test_open_runner_dispatches_and_rejects_other_paths(tiny: TinyModels, tmp_path: Path) -> None:
    runner = open_runner(tiny.gguf)
    assert isinstance(runner, LlamaCppRunner)
    runner.close()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DndtuneError, match="not a model"):
        open_runner(tmp_path / "notes.txt")
    with pytest.raises(DndtuneError, match="GGUF file not found"):
        LlamaCppRunner(tmp_path / "missing.gguf")
