"""Chat-template rendering shared by every runner, so HF and GGUF models see byte-identical prompts.

The Jinja environment mirrors the one transformers and llama.cpp's Python bindings use for chat
templates (sandboxed, ``trim_blocks``/``lstrip_blocks``, ``loopcontrols``, a ``tojson`` that keeps
non-ASCII text, ``{% generation %}`` tags accepted and ignored), so a template renders here as
it does in ``apply_chat_template`` and in the app.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dndtune.dataset.chat import Message
from dndtune.errors import DndtuneError


class _IgnoreGeneration(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}`` (assistant-mask markers) render their body only."""

    tags = {"generation"}  # noqa: RUF012 (jinja2 declares it as an instance-level set)

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise(message: str) -> None:
    raise jinja2.TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class TemplateRejected(DndtuneError):
    """The chat template refused the conversation (e.g. roles that do not alternate)."""


@dataclass(frozen=True)
class TurnSplit:
    prompt: str
    target: str
    """The assistant turn as the model would write it, up to and including its end-of-turn token."""


class ChatRenderer:
    def __init__(self, template: str, *, bos_token: str, eos_token: str) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[_IgnoreGeneration, jinja2.ext.loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = _strftime_now
        try:
            self._template = env.from_string(template)
        except jinja2.TemplateSyntaxError as exc:
            raise DndtuneError(f"the chat template does not parse ({exc.message}, line {exc.lineno})",
                               fix="re-export the model so it carries dndtune's template") from None
        self.source = template
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None, *,
               add_generation_prompt: bool) -> str:
        try:
            return self._template.render(messages=list(messages), tools=list(tools) if tools else None,
                                         add_generation_prompt=add_generation_prompt,
                                         bos_token=self.bos_token, eos_token=self.eos_token)
        except jinja2.TemplateError as exc:
            raise TemplateRejected(f"the chat template rejects this conversation: {exc}") from None

    def split_turn(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]] | None,
                   end_of_turn: str) -> TurnSplit | None:
        """Prompt and target text of the last message (an assistant turn), or None when the
        template does not render the shorter conversation as a prefix of the longer one."""
        full = self.render(messages, tools, add_generation_prompt=False)
        prompt = self.render(messages[:-1], tools, add_generation_prompt=True)
        if not full.startswith(prompt):
            return None
        target = full[len(prompt):]
        end = target.find(end_of_turn)
        if end < 0:
            return None
        return TurnSplit(prompt=prompt, target=target[: end + len(end_of_turn)])
