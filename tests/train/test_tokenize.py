"""Assistant-only labels on the real chat templates of the Gemma 3 and Qwen 2.5 profiles."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from dndtune.errors import DndtuneError
from dndtune.train.tiny import TinyFamily
from dndtune.train.tokenize import (
    IGNORE_INDEX,
    ChatRenderer,
    Emphasis,
    require_trainable,
    tokenize_conversation,
    tokenize_conversations,
)
from tests.fixtures.tiny_models import ASK, NARRATION, SYSTEM, TOOL_RESULT, USER, conversation, profile_for


def renderer(path: Path, family: TinyFamily) -> ChatRenderer:
    profile = profile_for(family)
    return ChatRenderer(AutoTokenizer.from_pretrained(path), profile.chat_template, profile.end_of_turn_token)


@pytest.mark.parametrize("family", ["gemma3", "qwen2"])
def test_only_assistant_turns_are_trained(tiny_models: dict[TinyFamily, Path], family: TinyFamily) -> None:
    r = renderer(tiny_models[family], family)
    example = conversation()
    item = tokenize_conversation(r, example["messages"], tools=example["tools"])
    tok = r.tokenizer
    trained = tok.decode([t for t, label in zip(item.input_ids, item.labels, strict=True) if label != IGNORE_INDEX])
    masked = tok.decode([t for t, label in zip(item.input_ids, item.labels, strict=True) if label == IGNORE_INDEX])
    eot = profile_for(family).end_of_turn_token

    assert ASK in trained and NARRATION in trained
    assert '"name": "roll"' in trained and '"skill": "stealth"' in trained  # the tool call is learned
    assert trained.count(eot) == 2  # both assistant turns learn to stop
    for prompt_text in (SYSTEM, USER, TOOL_RESULT, '"description"'):
        assert prompt_text not in trained
        assert prompt_text in masked
    # Labels equal the input ids where trained: the model shifts them itself.
    assert all(label in (IGNORE_INDEX, t) for t, label in zip(item.input_ids, item.labels, strict=True))
    assert len(item.input_ids) == len(tok(r.render(example["messages"], example["tools"], generation_prompt=False),
                                          add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("family", ["gemma3", "qwen2"])
def test_assistant_spans_start_after_the_generation_prompt(tiny_models: dict[TinyFamily, Path],
                                                           family: TinyFamily) -> None:
    r = renderer(tiny_models[family], family)
    example = conversation()
    text, spans = r.assistant_spans(example["messages"], example["tools"])
    assert text[spans[0][0]:spans[0][1]].startswith(ASK)
    assert text[spans[1][0]:spans[1][1]] == NARRATION + profile_for(family).end_of_turn_token
    header = "<start_of_turn>model\n" if family == "gemma3" else "<|im_start|>assistant\n"
    assert all(text[:a].endswith(header) for a, _ in spans)


def test_truncation_that_leaves_no_assistant_token_fails_clearly(tiny_gemma3: Path) -> None:
    r = renderer(tiny_gemma3, "gemma3")
    items, stats = tokenize_conversations(r, [conversation(i) for i in range(3)], max_length=16)
    assert items == [] and stats.dropped_no_labels == 3 and stats.truncated == 3
    assert stats.shortest_dropped_prompt is not None and stats.shortest_dropped_prompt > 16
    with pytest.raises(DndtuneError, match=rf"no train conversation has a trainable.*"
                       rf"prompt before an assistant turn is {stats.shortest_dropped_prompt} tokens"):
        require_trainable(stats, "train", 16)


def test_conversation_without_assistant_turn_is_dropped(tiny_gemma3: Path) -> None:
    r = renderer(tiny_gemma3, "gemma3")
    only_prompt = {"messages": conversation()["messages"][:2], "tools": None}
    items, stats = tokenize_conversations(r, [only_prompt, conversation()], max_length=4096)
    assert len(items) == 1 and stats.dropped_no_labels == 1 and stats.dropped_indices == [0]
    assert stats.trained_tokens == items[0].trained_tokens > 0


def test_empty_split_fails_clearly(tiny_gemma3: Path) -> None:
    r = renderer(tiny_gemma3, "gemma3")
    _, stats = tokenize_conversations(r, [], max_length=128)
    with pytest.raises(DndtuneError, match="split is empty"):
        require_trainable(stats, "train", 128)


def test_tools_stored_as_json_string_are_accepted(tiny_qwen2: Path) -> None:
    import json

    r = renderer(tiny_qwen2, "qwen2")
    example = conversation()
    as_string = {"messages": example["messages"], "tools": json.dumps(example["tools"])}
    a, _ = tokenize_conversations(r, [example], max_length=4096)
    b, _ = tokenize_conversations(r, [as_string], max_length=4096)
    assert a[0].input_ids == b[0].input_ids and a[0].labels == b[0].labels


@pytest.mark.parametrize("family", ["gemma3", "qwen2"])
def test_emphasis_weighs_the_tool_call_and_the_end_of_turn(tiny_models: dict[TinyFamily, Path],
                                                          family: TinyFamily) -> None:
    r = renderer(tiny_models[family], family)
    profile = profile_for(family)
    fmt = profile.tool_format
    emphasis = Emphasis(fmt.call_open.strip(), fmt.call_close.strip(), profile.end_of_turn_token, 4.0)
    example = conversation()
    plain = tokenize_conversation(r, example["messages"], tools=example["tools"])
    item = tokenize_conversation(r, example["messages"], tools=example["tools"], emphasis=emphasis)
    assert plain.weights is None and item.labels == plain.labels
    assert item.weights is not None and len(item.weights) == len(item.labels)
    tok = r.tokenizer
    heavy = tok.decode([t for t, w in zip(item.input_ids, item.weights, strict=True) if w == 4.0])
    light = tok.decode([t for t, label, w in zip(item.input_ids, item.labels, item.weights, strict=True)
                        if label != IGNORE_INDEX and w == 1.0])
    assert '"skill": "stealth"' in heavy and fmt.call_open.strip() in heavy
    assert heavy.count(profile.end_of_turn_token) == 2  # stopping after the call and after the narration
    assert ASK in light and NARRATION in light and '"skill"' not in light
    # Context never gets a weight: it is not trained at all.
    assert all(w == 1.0 for label, w in zip(item.labels, item.weights, strict=True) if label == IGNORE_INDEX)


def test_emphasis_of_one_adds_no_weights(tiny_gemma3: Path) -> None:
    r = renderer(tiny_gemma3, "gemma3")
    example = conversation()
    item = tokenize_conversation(r, example["messages"], tools=example["tools"],
                                 emphasis=Emphasis("```tool_call", "```", "<end_of_turn>", 1.0))
    assert item.weights is None
