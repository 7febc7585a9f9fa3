"""Token counts of conversations, kept by content between runs.

Measuring every conversation through the chat template is the slow part of the dataset stage. A
rerun after editing one scenario finds the counts of every unchanged conversation here and
measures only the edited file's (and its augmented copies'). The cache is keyed by what a count
depends on: the tokenizer (name, vocabulary size, chat template) and the tool schema.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from dndtune.atomic import write_text_atomic
from dndtune.dataset.chat import Message
from dndtune.dataset.windows import TokenCounter
from dndtune.errors import DndtuneError


def tokenizer_identity(tokenizer: Any, tools: list[dict[str, Any]]) -> str:
    """What a token count depends on besides the conversation itself."""
    parts = [str(getattr(tokenizer, "name_or_path", "")), str(getattr(tokenizer, "chat_template", "") or ""),
             str(len(tokenizer)) if hasattr(tokenizer, "__len__") else "", json.dumps(tools, sort_keys=True)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class TokenCountCache:
    """Memoizes a :data:`TokenCounter` by conversation content; :meth:`save` keeps what this run used."""

    def __init__(self, folder: Path | None, identity: str) -> None:
        self.path = folder / f"{identity}.json" if folder is not None else None
        self._stored: dict[str, int] = self._load()
        self._used: dict[str, int] = {}
        self.hits = 0
        self.misses = 0

    def _load(self) -> dict[str, int]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # no cache yet, or a damaged one: every count is measured again
        return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}

    def wrap(self, count: TokenCounter) -> TokenCounter:
        def cached(messages: list[Message]) -> int:
            key = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).hexdigest()
            value = self._stored.get(key)
            if value is None:
                value = count(messages)
                self.misses += 1
            else:
                self.hits += 1
            self._used[key] = value
            return value

        return cached

    def save(self) -> None:
        """Write the counts this run used (so the file never grows past one dataset's worth)."""
        if self.path is None or self._used == self._stored:
            return
        # Like the parse cache: an optimisation, so a read-only or full disk must not fail the stage.
        with contextlib.suppress(DndtuneError, OSError):
            write_text_atomic(self.path, json.dumps(self._used))
