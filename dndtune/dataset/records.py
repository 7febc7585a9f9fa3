"""Rows of the dataset: the training example, its Arrow schema and its JSONL line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dndtune.dataset.chat import Message, message, roll_tool, tool_call
from dndtune.scenario.models import RollRequest

if TYPE_CHECKING:
    from datasets import Features

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


def _feature_of(value: Any) -> Any:
    from datasets import List, Value

    if isinstance(value, dict):
        return {k: _feature_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return List(_feature_of(value[0]) if value else Value("string"))
    if isinstance(value, bool):
        return Value("bool")
    if isinstance(value, int):
        return Value("int64")
    return Value("string")


def dataset_features() -> Features:
    """The Arrow schema, derived from the message and tool shapes so the two never drift apart."""
    from datasets import Features, List, Value

    call = tool_call(RollRequest(skill="perception", character=""), None)
    sample_message = message("assistant", "", name="", tool_calls=[call])
    return Features({
        "messages": List(_feature_of(sample_message)),
        "tools": List(_feature_of(roll_tool())),
        "scenario": Value("string"),
        "category": Value("string"),
        "augmented": Value("bool"),
    })
