"""The HF side of verification: the merged model's tokenizer, chat template and next-token log-probs.

Every prompt the GGUF is checked on is rendered and tokenized here, with the tokenizer training
used, so llama.cpp is fed exactly the tokens the fine-tuned model saw; its own tokenizer is
then checked against these ids separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.dataset.records import read_jsonl
from dndtune.errors import DndtuneError


@dataclass(frozen=True)
class Conversation:
    messages: list[Message]
    tools: list[dict[str, Any]] | None


@dataclass(frozen=True)
class ScoredSequence:
    """Token ids of one rendered conversation and which of them are DM (assistant) tokens."""

    tokens: list[int]
    mask: list[bool]


def load_conversations(path: Path, limit: int | None = None) -> list[Conversation]:
    """Conversations of a dataset ``*.jsonl`` (``{"messages": [...], "tools": [...]}``), at most ``limit``."""
    return [Conversation(messages=row.messages, tools=row.tools)
            for row in read_jsonl(path, what="held-out conversations", limit=limit)]


class HfReference:
    """Tokenizer (always) and model (on first use) of an HF folder."""

    def __init__(self, folder: Path) -> None:
        from transformers import AutoTokenizer

        self.folder = folder
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(folder))
        self._model: Any = None
        if not getattr(self.tokenizer, "chat_template", None):
            raise DndtuneError("the merged tokenizer has no chat template", path=str(folder),
                               fix="save the tokenizer with the profile's chat template when merging")

    @property
    def chat_template(self) -> str:
        return str(self.tokenizer.chat_template)

    def render(self, messages: list[Message], tools: list[dict[str, Any]] | None, *,
               add_generation_prompt: bool, chat_template: str | None = None) -> str:
        text = self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt,
                                                  chat_template=chat_template)
        return str(text)

    def encode(self, text: str) -> list[int]:
        # Templates write <bos> themselves; adding it again would shift every position.
        return [int(t) for t in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def decode(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens, skip_special_tokens=False))

    def token_id(self, token: str) -> int | None:
        value = self.tokenizer.convert_tokens_to_ids(token)
        unk = getattr(self.tokenizer, "unk_token_id", None)
        return None if value is None or (value == unk and token != self.tokenizer.unk_token) else int(value)

    def logprobs(self, prompts: list[list[int]]) -> Any:
        """Log-softmax of the next-token logits after each prompt, as a float32 array (prompts x vocab)."""
        import numpy as np
        import torch

        model = self._load_model()
        rows = []
        # A few short forward passes: torch's spinning thread pool cost 4x on shared cores
        # (28 s instead of 6.5 s for Gemma 3 270M on two busy cores), so use one thread.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                for tokens in prompts:
                    logits = model(torch.tensor([tokens])).logits[0, -1].float()
                    rows.append(torch.log_softmax(logits, dim=-1).numpy())
        finally:
            torch.set_num_threads(threads)
        return np.stack(rows).astype(np.float32)

    def _load_model(self) -> Any:
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            # float32: the reference must not add rounding of its own to what the parity check measures.
            model = AutoModelForCausalLM.from_pretrained(str(self.folder), dtype=torch.float32)
            model.train(False)
            self._model = model
        return self._model

    def scored_sequence(self, conversation: Conversation, max_tokens: int) -> ScoredSequence | None:
        """The conversation's tokens with its assistant turns marked, or None if the template is not prefix-stable."""
        full = self.render(conversation.messages, conversation.tools, add_generation_prompt=False)
        spans: list[tuple[int, int]] = []
        for i, message in enumerate(conversation.messages):
            if message.get("role") != "assistant":
                continue
            prefix = self.render(conversation.messages[:i], conversation.tools, add_generation_prompt=True)
            upto = self.render(conversation.messages[: i + 1], conversation.tools, add_generation_prompt=False)
            if not (full.startswith(upto) and upto.startswith(prefix)):
                return None
            spans.append((len(prefix), len(upto)))
        if not spans:
            return None
        encoded = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        tokens = [int(t) for t in encoded["input_ids"]][:max_tokens]
        offsets = encoded["offset_mapping"][: len(tokens)]
        mask = [any(lo <= start < hi for lo, hi in spans) for start, _ in offsets]
        if not any(mask[1:]):
            return None
        return ScoredSequence(tokens=tokens, mask=mask)
