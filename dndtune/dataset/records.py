"""Rows of the dataset: the training example, its JSONL line and the reader of those lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError

COLUMNS = ("messages", "tools", "scenario", "category", "augmented")


@dataclass(frozen=True)
class Example:
    """One training conversation (a whole scenario, or one window of a long one)."""

    messages: list[Message]
    scenario: str
    """The scenario file it came from, as the validator names it."""
    key: str
    """``category/file.md``: stable across machines (split and balance order by it)."""
    category: str
    copy: int
    """0 for the original, 1.. for augmented copies."""
    window: int = 0
    tokens: int | None = None

    @property
    def augmented(self) -> bool:
        return self.copy > 0

    def row(self, tools: list[dict[str, Any]]) -> dict[str, Any]:
        return {"messages": self.messages, "tools": tools, "scenario": self.scenario,
                "category": self.category, "augmented": self.augmented}


def jsonl_line(messages: list[Message], tools: list[dict[str, Any]]) -> str:
    """The standard chat line other trainers read (Axolotl ``chat_template``, LLaMA-Factory OpenAI style)."""
    return json.dumps({"messages": messages, "tools": tools}, ensure_ascii=False)


@dataclass(frozen=True)
class ChatLine:
    """One conversation read back from a :func:`jsonl_line` file."""

    number: int
    """Its line in the file (1-based), for error messages and report sources."""
    messages: list[Message]
    tools: list[dict[str, Any]] | None


def read_jsonl(path: Path, *, what: str, limit: int | None = None) -> list[ChatLine]:
    """The conversations of a chat JSONL file (``train.jsonl``, ``eval.jsonl``), blank lines skipped.

    ``what`` names the file when it cannot be read ("the evaluation set"); a bad line fails with
    its line number. ``limit`` stops after that many conversations.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DndtuneError(f"cannot read {what} ({exc.strerror})", path=str(path),
                           fix="rebuild the dataset with `dndtune dataset build`") from None
    rows: list[ChatLine] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DndtuneError(f"not valid JSON ({exc.msg})", path=str(path), line=number,
                               fix="rebuild the dataset with `dndtune dataset build`") from None
        messages = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(messages, list) or not messages:
            raise DndtuneError("line has no \"messages\" list", path=str(path), line=number,
                               fix="each line must be {\"messages\": [...], \"tools\": [...]}")
        rows.append(ChatLine(number=number, messages=messages, tools=row.get("tools")))
        if limit is not None and len(rows) >= limit:
            break
    return rows


