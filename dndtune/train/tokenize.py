"""Tokenize conversations with assistant-only labels, whatever the chat template.

TRL's ``assistant_only_loss`` needs ``{% generation %}`` markers that Gemma's and Qwen's
templates do not have, so the mask is built here instead: the conversation is rendered once in
full, and each assistant turn is located by rendering the conversation up to that turn with the
generation prompt (where the turn starts) and finding the profile's end-of-turn marker (where it
ends). The full text is tokenized once and a token is trained when it starts inside an assistant
span. Working on characters rather than on separately tokenized pieces keeps the token ids
exactly what the model sees at inference, merges across turn boundaries included.

Assistant spans cover the reply text, its tool calls and the end-of-turn token (the model must
learn to stop); system, user and tool-response tokens get ``-100``.

With :class:`Emphasis`, the tokens that decide what a turn does get a loss weight: each tool-call
block (from the token that opens it, which is the choice "roll now", to its close) and the
end-of-turn token (the choice "no roll, stop here"). Narration is most of an assistant turn's
tokens, so without a weight these few tokens, the ones the game depends on, are a small share of
the gradient.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dndtune.errors import DndtuneError

IGNORE_INDEX = -100
"""Label value the loss skips (PyTorch's cross-entropy default)."""

Message = Mapping[str, Any]


@dataclass(frozen=True)
class TokenizedConversation:
    input_ids: list[int]
    labels: list[int]
    truncated: bool = False
    prompt_tokens: int | None = None
    """Tokens before the first assistant token, counted before truncation (``None``: no assistant turn)."""
    weights: list[float] | None = None
    """Loss weight per label position (``None``: every trained token weighs 1)."""

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class LabelStats:
    """What tokenization kept, for the run log and ``run.json``."""

    conversations: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_no_labels: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    longest: int = 0
    dropped_indices: list[int] = field(default_factory=list)
    shortest_dropped_prompt: int | None = None
    """Fewest tokens before an assistant turn among conversations dropped by truncation."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations, "kept": self.kept, "truncated": self.truncated,
            "dropped_no_labels": self.dropped_no_labels, "tokens": self.tokens,
            "trained_tokens": self.trained_tokens, "longest": self.longest,
            "shortest_dropped_prompt": self.shortest_dropped_prompt,
        }


@dataclass(frozen=True)
class Emphasis:
    """Which tokens of an assistant turn get a larger loss weight, and how much larger."""

    call_open: str
    call_close: str
    end_of_turn: str | None
    weight: float

    def spans(self, text: str, turns: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """Character spans of the tool-call blocks and end-of-turn markers inside the assistant ``turns``."""
        out: list[tuple[int, int]] = []
        for start, end in turns:
            at = text.find(self.call_open, start, end)
            while at >= 0:
                close = text.find(self.call_close, at + len(self.call_open), end)
                stop = end if close < 0 else close + len(self.call_close)
                # The whitespace before the block belongs to the decision: Gemma's "\n```" is one token.
                begin = at
                while begin > start and text[begin - 1].isspace():
                    begin -= 1
                out.append((begin, stop))
                at = text.find(self.call_open, stop, end)
            if self.end_of_turn and text.endswith(self.end_of_turn, start, end):
                out.append((end - len(self.end_of_turn), end))
        return out


class ChatRenderer:
    """Renders conversations through one tokenizer and chat template."""

    def __init__(self, tokenizer: Any, chat_template: str | None, end_of_turn: str | None) -> None:
        if chat_template is None and not getattr(tokenizer, "chat_template", None):
            raise DndtuneError("the tokenizer has no chat template and the model profile supplies none",
                               fix="set base_model.profile to one of the shipped profiles")
        if not getattr(tokenizer, "is_fast", False):
            raise DndtuneError("assistant-only labels need a fast (Rust) tokenizer with offset mapping",
                               fix="install `tokenizers` and use the model's tokenizer.json")
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.end_of_turn = end_of_turn

    def render(self, messages: Sequence[Message], tools: Sequence[Any] | None, *, generation_prompt: bool) -> str:
        text = self.tokenizer.apply_chat_template(
            list(messages), tools=list(tools) if tools else None, chat_template=self.chat_template,
            tokenize=False, add_generation_prompt=generation_prompt,
        )
        if not isinstance(text, str):
            raise TypeError(f"apply_chat_template returned {type(text).__name__}, expected str")
        return text

    def assistant_spans(self, messages: Sequence[Message],
                        tools: Sequence[Any] | None) -> tuple[str, list[tuple[int, int]]]:
        """The full rendering and the ``[start, end)`` character span of every assistant turn."""
        full = self.render(messages, tools, generation_prompt=False)
        spans: list[tuple[int, int]] = []
        for index, message in enumerate(messages):
            if message.get("role") != "assistant":
                continue
            prompt = self.render(messages[:index], tools, generation_prompt=True)
            if not full.startswith(prompt):
                raise DndtuneError(
                    f"the chat template renders the conversation before assistant turn {index} differently "
                    "from the whole conversation, so assistant tokens cannot be located",
                    fix="use the model profile's chat template (base_model.profile)",
                )
            start = len(prompt)
            spans.append((start, self._turn_end(messages, tools, index, full, start)))
        return full, spans

    def _turn_end(self, messages: Sequence[Message], tools: Sequence[Any] | None, index: int,
                  full: str, start: int) -> int:
        # Where the rendering of the conversation closed after this turn stops agreeing with the
        # full one bounds the turn, so text the template appends for a later message (a tool
        # response folded into the same turn) is never counted as the assistant's.
        closed = self.render(messages[: index + 1], tools, generation_prompt=False)
        bound = _common_prefix_length(closed, full)
        if bound <= start:
            bound = len(full)
        if self.end_of_turn:
            found = full.find(self.end_of_turn, start, bound + len(self.end_of_turn))
            if found >= 0:
                return found + len(self.end_of_turn)
        end = bound
        while end > start and full[end - 1].isspace():
            end -= 1
        return end


def _common_prefix_length(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    for index in range(limit):
        if a[index] != b[index]:
            return index
    return limit


def tokenize_conversation(renderer: ChatRenderer, messages: Sequence[Message], *,
                          tools: Sequence[Any] | None = None, max_length: int | None = None,
                          emphasis: Emphasis | None = None) -> TokenizedConversation:
    """Token ids of the rendered conversation with labels on assistant tokens only (and weights with ``emphasis``)."""
    text, spans = renderer.assistant_spans(messages, tools)
    encoding = renderer.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids: list[int] = list(encoding["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(pair) for pair in encoding["offset_mapping"]]
    labels = [IGNORE_INDEX] * len(input_ids)
    for position in _positions_inside(offsets, spans):
        labels[position] = input_ids[position]
    prompt_tokens = next((i for i, label in enumerate(labels) if label != IGNORE_INDEX), None)
    weights = None
    if emphasis is not None and emphasis.weight != 1.0:
        weights = _weights(offsets, labels, emphasis.spans(text, spans), emphasis.weight)
    truncated = max_length is not None and len(input_ids) > max_length
    if truncated:
        input_ids, labels = input_ids[:max_length], labels[:max_length]
        weights = None if weights is None else weights[:max_length]
    return TokenizedConversation(input_ids=input_ids, labels=labels, truncated=truncated,
                                 prompt_tokens=prompt_tokens, weights=weights)


def _weights(offsets: Sequence[tuple[int, int]], labels: Sequence[int], spans: Sequence[tuple[int, int]],
             weight: float) -> list[float]:
    """``weight`` for trained tokens that start inside ``spans`` (sorted, disjoint), 1.0 for the others."""
    out = [1.0] * len(labels)
    for position in _positions_inside(offsets, spans):
        if labels[position] != IGNORE_INDEX:
            out[position] = weight
    return out


def _positions_inside(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> Iterator[int]:
    """Token positions whose start offset lies inside one of ``spans`` (sorted, disjoint)."""
    index = 0
    for position, (start, end) in enumerate(offsets):
        while index < len(spans) and start >= spans[index][1]:
            index += 1
        if index == len(spans):
            return
        span_start, span_end = spans[index]
        # A zero-width offset (some tokenizers trim whitespace) counts where it sits.
        if span_start <= start < span_end or (start == end and span_start < start <= span_end):
            yield position


def conversation_parts(example: Mapping[str, Any]) -> tuple[list[Message], list[Any] | None]:
    """``messages`` and ``tools`` of one dataset record (``tools`` may be stored as a JSON string)."""
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DndtuneError("a dataset record has no `messages` list", fix="rebuild the dataset")
    tools = example.get("tools")
    if isinstance(tools, str):
        tools = json.loads(tools)
    return messages, (list(tools) if tools else None)


def tokenize_conversations(renderer: ChatRenderer, examples: Iterable[Mapping[str, Any]], *, max_length: int,
                           emphasis: Emphasis | None = None) -> tuple[list[TokenizedConversation], LabelStats]:
    """Tokenize a split; conversations left with no trained token (after truncation) are dropped and counted."""
    kept: list[TokenizedConversation] = []
    stats = LabelStats()
    for index, example in enumerate(examples):
        messages, tools = conversation_parts(example)
        stats.conversations += 1
        item = tokenize_conversation(renderer, messages, tools=tools, max_length=max_length, emphasis=emphasis)
        stats.truncated += int(item.truncated)
        if item.trained_tokens == 0:
            stats.dropped_no_labels += 1
            stats.dropped_indices.append(index)
            if item.prompt_tokens is not None:
                previous = stats.shortest_dropped_prompt
                stats.shortest_dropped_prompt = min(item.prompt_tokens, previous or item.prompt_tokens)
            continue
        kept.append(item)
        stats.kept += 1
        stats.tokens += len(item.input_ids)
        stats.trained_tokens += item.trained_tokens
        stats.longest = max(stats.longest, len(item.input_ids))
    return kept, stats


def require_trainable(stats: LabelStats, split: str, max_length: int) -> None:
    """Fail before the first step when nothing in ``split`` would be trained."""
    if stats.conversations == 0:
        raise DndtuneError(f"the {split} split is empty", fix="add scenarios or lower data.eval_fraction")
    if stats.kept == 0:
        prompt = stats.shortest_dropped_prompt
        if prompt is not None:
            fix = (f"the shortest prompt before an assistant turn is {prompt} tokens: raise data.max_seq_length "
                   f"(now {max_length}) above it")
        else:
            fix = "check that the conversations contain assistant turns"
        raise DndtuneError(
            f"no {split} conversation has a trainable (assistant) token after tokenization: all "
            f"{stats.conversations} are masked out", fix=fix,
        )
