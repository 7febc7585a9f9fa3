"""What is evaluated: held-out conversations, cut into the DM turns a model has to produce.

A conversation comes either from a run's held-out split (``eval.jsonl``, one
``{"messages": [...], "tools": [...]}`` per line, written by the dataset stage) or from any
folder of scenario files, converted with the dataset stage's own ``scenario_to_messages`` so the
model sees exactly the format it was trained on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import Message, scenario_to_messages, tools
from dndtune.dataset.records import read_jsonl
from dndtune.errors import DndtuneError
from dndtune.events import EventSink
from dndtune.scenario.loader import load_scenarios

_PARTY_LINE = re.compile(r"^-\s*([^|\n]+?)\s*(?:\||$)")


@dataclass(frozen=True)
class EvalExample:
    """One held-out conversation."""

    messages: list[Message]
    tools: list[dict[str, Any]]
    source: str
    """Where it came from (``eval.jsonl:3`` or a scenario path), for reports."""


@dataclass(frozen=True)
class ExpectedCall:
    skill: str
    character: str | None


@dataclass(frozen=True)
class DmTurn:
    """One assistant message to reproduce, with everything before it as the prompt."""

    example: EvalExample
    index: int
    """Position of the assistant message in ``example.messages``."""
    prompt: list[Message]
    reference: Message
    expected_calls: tuple[ExpectedCall, ...]
    results: tuple[dict[str, Any], ...] = field(default=())
    """Tool results directly before this turn (parsed JSON): what the reply must narrate."""

    @property
    def after_result(self) -> bool:
        return bool(self.results)

    @property
    def reference_text(self) -> str:
        return str(self.reference.get("content") or "")

    @property
    def party(self) -> list[str]:
        return party_names(self.prompt)

    @property
    def conversation_text(self) -> str:
        """Every word the model has seen before this turn (system prompt, turns, tool traffic)."""
        parts = [str(m.get("content") or "") for m in self.prompt]
        for m in self.prompt:
            for call in m.get("tool_calls") or ():
                parts.append(json.dumps(_arguments(call), ensure_ascii=False))
        return "\n".join(parts)

    @property
    def context_text(self) -> str:
        """The conversation plus the reference reply: every name the scenario uses up to here."""
        return f"{self.conversation_text}\n{self.reference_text}"


def load_jsonl(path: Path) -> list[EvalExample]:
    """Examples from a JSONL chat file (the dataset stage's ``eval.jsonl`` format)."""
    examples = [EvalExample(messages=row.messages, tools=row.tools or tools(), source=f"{path.name}:{row.number}")
                for row in read_jsonl(path, what="the evaluation set")]
    if not examples:
        raise DndtuneError("the evaluation set is empty", path=str(path),
                           fix="hold out scenarios with data.eval_fraction > 0, or pass --scenarios DIR")
    return examples


def load_scenario_folder(paths: list[Path], events: EventSink, cache_dir: Path | None = None) -> list[EvalExample]:
    """Examples from scenario files or folders (a user's own test set)."""
    loaded = load_scenarios(paths, events, cache_dir)
    if loaded.failed_files:
        raise DndtuneError(f"{len(loaded.failed_files)} scenario file(s) have errors",
                           path=loaded.failed_files[0], fix=f"run `dndtune validate {paths[0]}`")
    if not loaded.scenarios:
        raise DndtuneError("no scenario files found", path=str(paths[0]),
                           fix="pass a scenario .md file or a folder of them")
    schema = tools()
    return [EvalExample(messages=scenario_to_messages(s), tools=schema, source=s.path) for s in loaded.scenarios]


def dm_turns(example: EvalExample) -> list[DmTurn]:
    """Every assistant message of a conversation that has something before it to answer."""
    turns: list[DmTurn] = []
    messages = example.messages
    for index, message in enumerate(messages):
        if message.get("role") != "assistant" or index == 0:
            continue
        if all(m.get("role") == "system" for m in messages[:index]):
            # An opening narration with no player input yet: templates need a user turn first.
            continue
        results: list[dict[str, Any]] = []
        back = index - 1
        while back >= 0 and messages[back].get("role") == "tool":
            results.insert(0, parse_tool_result(messages[back].get("content")))
            back -= 1
        turns.append(DmTurn(example=example, index=index, prompt=list(messages[:index]), reference=message,
                            expected_calls=expected_calls(message), results=tuple(results)))
    return turns


def expected_calls(message: Message) -> tuple[ExpectedCall, ...]:
    calls: list[ExpectedCall] = []
    for call in message.get("tool_calls") or ():
        args = _arguments(call)
        skill = args.get("skill")
        if isinstance(skill, str):
            character = args.get("character")
            calls.append(ExpectedCall(skill=skill, character=character if isinstance(character, str) else None))
    return tuple(calls)


def parse_tool_result(content: Any) -> dict[str, Any]:
    """A tool message's JSON payload (``{}`` when it is not JSON: nothing to check against)."""
    if isinstance(content, dict):
        return content
    try:
        value = json.loads(str(content or ""))
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def party_names(messages: list[Message]) -> list[str]:
    """Party members listed in the system prompt (``- Name | Race Class Level | ...`` lines)."""
    system = next((m for m in messages if m.get("role") == "system"), None)
    if system is None:
        return []
    names: list[str] = []
    in_party = False
    for line in str(system.get("content") or "").splitlines():
        stripped = line.strip()
        if stripped.lower().startswith("party:"):
            in_party = True
            continue
        if in_party:
            match = _PARTY_LINE.match(stripped)
            if match is None:
                in_party = False
                continue
            names.append(match.group(1).strip())
    return names


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    args = function.get("arguments", {}) if isinstance(function, dict) else {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return {}
    return args if isinstance(args, dict) else {}
