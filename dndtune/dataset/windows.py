"""Token counting through a tokenizer, and splitting an over-long conversation at turn boundaries."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError

TokenCounter = Callable[[list[Message]], int]
"""Tokens of a whole conversation as the model's chat template renders it."""


def plain_text(messages: list[Message]) -> str:
    """A template-free rendering for tokenizers that have no chat template (roles, text, calls)."""
    parts = []
    for m in messages:
        calls = json.dumps([c["function"] for c in m["tool_calls"]]) if m["tool_calls"] else ""
        parts.append(f"{m['role']}: {m['content']} {calls}".rstrip())
    return "\n".join(parts)


def token_counter(tokenizer: Any, tools: list[dict[str, Any]]) -> TokenCounter:
    """Count with ``apply_chat_template`` when the tokenizer has a template, else on plain text."""

    def count(messages: list[Message]) -> int:
        if getattr(tokenizer, "chat_template", None):
            try:
                encoded = tokenizer.apply_chat_template(messages, tools=tools, tokenize=True)
            except Exception as exc:  # A template's own raise_exception() or a Jinja error, of any type.
                raise DndtuneError(
                    f"the tokenizer's chat template cannot render a training conversation: {exc}",
                    fix="use a model profile whose chat template supports tool calls and tool results",
                ) from exc
            # transformers 5 returns a BatchEncoding here, 4.x a bare list of ids.
            ids = encoded["input_ids"] if isinstance(encoded, Mapping) or hasattr(encoded, "keys") else encoded
            return len(ids)
        return len(tokenizer(plain_text(messages))["input_ids"])

    return count


def rounds(messages: list[Message]) -> list[list[Message]]:
    """The non-system messages cut before every user message: a request with all it caused.

    A cut never falls between a tool call and its result, or a result and its narration.
    """
    out: list[list[Message]] = []
    for m in messages:
        if m["role"] == "system":
            continue
        if m["role"] == "user" or not out:
            out.append([])
        out[-1].append(m)
    return out


def split_windows(messages: list[Message], count: TokenCounter, max_tokens: int) -> list[list[Message]]:
    """The conversation itself when it fits; else windows of whole rounds, each with the system message.

    Rounds are packed greedily in order. A single round longer than ``max_tokens`` becomes a
    window of its own (the caller reports it as over-length; the trainer truncates it).
    """
    if count(messages) <= max_tokens:
        return [messages]
    system = [m for m in messages[:1] if m["role"] == "system"]
    windows: list[list[Message]] = []
    current: list[Message] = []
    for chunk in rounds(messages):
        candidate = current + chunk
        if current and count(system + candidate) > max_tokens:
            windows.append(system + current)
            current = list(chunk)
        else:
            current = candidate
    if current:
        windows.append(system + current)
    return windows
