"""A GBNF grammar for one DM reply, so llama.cpp can only write tool calls the app can parse.

The grammar is derived from the model profile (the family's tool-call markers) and the tools'
JSON schemas, and it describes exactly what the chat template renders for an assistant turn:

- optional narration: text that starts and ends with a non-space character and contains no
  chat-template marker of any family (``<start_of_turn>``, ``<|im_end|>``, ...) and no tool-call
  or tool-response marker (for Gemma: no ```` ``` ```` at all);
- then up to :data:`MAX_CALLS` tool-call blocks, each in the family's exact format, joined by a
  newline (and separated from the narration by one): Gemma's
  ````` ```tool_call\\n{"name": "roll", "arguments": {"skill": "stealth", "character": "Mira"}}\\n``` `````,
  Qwen's ``<tool_call>\\n{...}\\n</tool_call>``;
- then nothing: the only token allowed after the last block is end-of-turn.

The JSON inside a block is generated from the tool's parameter schema with the spacing and key
order of ``tojson`` (``{"skill": "stealth", "character": "Mira"}``), so constrained output is
byte-identical to the tool calls the model was trained on. Every property is written, in schema
order: the dataset always writes both ``skill`` and ``character``, and a reply the grammar allows
should look like one the model learnt.

The text is plain GBNF (llama.cpp's ``grammars/README.md``): it ships in the deploy bundle as
:data:`GRAMMAR_FILE`, and an app passes it to llama.cpp's grammar sampler unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from dndtune.dataset.chat import tools as dataset_tools
from dndtune.errors import DndtuneError
from dndtune.models.profiles import GEMMA_TOOLS, QWEN_TOOLS, Family, ModelProfile

GRAMMAR_FILE = "roll.gbnf"
"""Name of the grammar file in a deploy bundle."""

MAX_CALLS = 4
"""Tool calls one reply may make. The sample scenarios use at most two; four lets a whole party
roll at once while a model that loops on calls still has to stop."""

MAX_STRING_CHARS = 48
"""Longest free string argument (a character's name) when the schema sets no ``maxLength``."""

CHAT_MARKERS: tuple[str, ...] = (
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<start_of_image>", "<end_of_image>",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<|begin_of_text|>", "<|eot_id|>",
)
"""Chat-template markers of every supported family (and the common Llama ones); never narration."""

REPLY_PREFIX: dict[Family, str] = {"qwen3": "<think>\n\n</think>\n\n"}
"""What a family's trained reply starts with before the narration: the Qwen 3 training template
renders an empty thinking block in every assistant turn, so a fine-tuned Qwen 3 writes one."""

WHITESPACE = " \t\n\r"
_CONTROL = "".join(chr(c) for c in range(0x20) if chr(c) not in WHITESPACE) + "\x7f"
_STRING_EXCLUDED = '"\\<>`' + "".join(chr(c) for c in range(0x20)) + "\x7f"
"""Not in a string argument: JSON's quote and escape (so no escapes are needed, as for any name
``tojson`` writes), control characters, and the characters every marker is made of."""


def narration_markers(profile: ModelProfile) -> tuple[str, ...]:
    """The substrings narration may not contain, shortest covering set (``` covers ```tool_call)."""
    found = set(CHAT_MARKERS)
    for fmt in (profile.tool_format, GEMMA_TOOLS, QWEN_TOOLS):
        found.update(m.strip() for m in (fmt.call_open, fmt.call_close, fmt.response_open, fmt.response_close))
    found.discard("")
    kept = {m for m in found if not any(other != m and other in m for other in found)}
    return tuple(sorted(kept))


def roll_grammar(profile: ModelProfile, tools: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The grammar dndtune decodes with: ``profile``'s family and the dataset's ``roll`` tool (or ``tools``).

    Evaluation, play, the export's verification and the deploy bundle all take it from here, so a
    reply measured in llama.cpp is constrained exactly as the app's is.
    """
    if tools is None:

        tools = dataset_tools()
    return _cached_grammar(profile, json.dumps(list(tools), ensure_ascii=False))


@lru_cache(maxsize=32)
def _cached_grammar(profile: ModelProfile, tools_json: str) -> str:
    # Evaluation asks once per DM turn; the automaton behind the narration rule takes ~20 ms to build.
    return reply_grammar(profile, json.loads(tools_json))


def reply_grammar(profile: ModelProfile, tools: Sequence[Mapping[str, Any]], *, max_calls: int = MAX_CALLS) -> str:
    """GBNF for one assistant reply of ``profile``'s family that may call ``tools`` (OpenAI format).

    With no tools the reply is narration only.
    """
    if max_calls < 1:
        raise DndtuneError(f"max_calls must be at least 1, not {max_calls}")
    fmt = profile.tool_format
    rules: dict[str, str] = {}
    prefix = REPLY_PREFIX.get(profile.family)
    head = f"{literal(prefix)}? " if prefix else ""
    calls = [_tool_call_rule(rules, tool, index) for index, tool in enumerate(tools)]
    if calls:
        rules["root"] = f'{head}( narration ( "\\n" calls )? | calls )'
        rules["calls"] = f'call ( "\\n" call ){{0,{max_calls - 1}}}'
        rules["call"] = f"{literal(fmt.call_open)} ( {' | '.join(calls)} ) {literal(fmt.call_close)}"
    else:
        rules["root"] = f"{head}narration"
    rules.update(text_avoiding(narration_markers(profile), name="narration"))
    header = (f"# One {profile.family} DM reply: narration, then up to {max_calls} tool call(s), then end of turn.\n"
              "# Made by dndtune (dndtune/models/grammar.py) from the tools' JSON schemas.\n")
    return header + "".join(f"{name} ::= {body}\n" for name, body in rules.items())


def _function(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    function = tool.get("function", tool)
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise DndtuneError("a tool has no function name", fix="pass tools in OpenAI function format")
    return function


def _tool_call_rule(rules: dict[str, str], tool: Mapping[str, Any], index: int) -> str:
    """Adds the rules for one tool's call body and returns the rule name."""
    function = _function(tool)
    name: str = function["name"]
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    rule = f"tool-{index}"
    parts: list[str] = []
    for position, (key, schema) in enumerate(properties.items()):
        value = f"{rule}-{_rule_word(key)}"
        rules[value] = _value_rule(schema, where=f"{name}.{key}")
        parts.append(literal(("" if position == 0 else ", ") + json.dumps(key, ensure_ascii=False) + ": "))
        parts.append(value)
    # The templates write the name raw and the arguments with tojson: '{"name": "' + name + '", "arguments": '.
    opening = literal(f'{{"name": "{name}", "arguments": {{')
    rules[rule] = " ".join([opening, *parts, literal("}}")])
    return rule


def _rule_word(key: str) -> str:
    word = "".join(c if c.isascii() and c.isalnum() else "-" for c in key.lower()).strip("-")
    return word or "arg"


def _value_rule(schema: Any, *, where: str) -> str:
    if not isinstance(schema, Mapping):
        raise DndtuneError(f"tool parameter {where} has no JSON schema", fix="give each property a schema object")
    if "enum" in schema or "const" in schema:
        values = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        if not values:
            raise DndtuneError(f"tool parameter {where} has an empty enum")
        return " | ".join(literal(json.dumps(v, ensure_ascii=False)) for v in values)
    kind = schema.get("type")
    if kind == "string":
        longest = int(schema.get("maxLength", MAX_STRING_CHARS))
        shortest = max(1, int(schema.get("minLength", 1)))
        return f'"\\"" {char_class(_STRING_EXCLUDED, negate=True)}{{{shortest},{longest}}} "\\""'
    if kind == "integer":
        return '"-"? ( "0" | [1-9] [0-9]{0,8} )'
    if kind == "boolean":
        return '"true" | "false"'
    raise DndtuneError(f"tool parameter {where} has a type the grammar does not support ({kind!r})",
                       fix="use a string, an enum, an integer or a boolean")


def text_avoiding(markers: Sequence[str], *, name: str) -> dict[str, str]:
    """Rules for text that starts and ends with a non-space character and contains no ``markers``.

    Written as a deterministic automaton (Aho-Corasick over the markers), one right-recursive rule
    per marker prefix just read, so llama.cpp follows a single parse while sampling narration:
    ambiguity would multiply its grammar stacks and slow every token down. ``name`` starts the
    text; ``name-ws`` follows whitespace (it cannot end there); ``name-N`` follows a non-space
    character that leaves the automaton in state N (it may end there).
    """
    if any(not m or any(c in WHITESPACE for c in m) for m in markers):
        raise DndtuneError("narration markers must be non-empty and contain no whitespace")
    states = sorted({m[:i] for m in markers for i in range(len(m))}, key=lambda s: (len(s), s))
    number = {state: i for i, state in enumerate(states)}
    alphabet = sorted({c for m in markers for c in m})

    def step(state: str, char: str) -> str | None:
        """The automaton state after ``char``; None when it completes a marker."""
        text = state + char
        if any(text.endswith(m) for m in markers):
            return None
        return next((text[i:] for i in range(len(text)) if text[i:] in number), "")

    def moves(state: str) -> list[str]:
        special = {c: step(state, c) for c in alphabet}
        special = {c: t for c, t in special.items() if t != ""}
        out = [f"{literal(c)} {name}-{number[t]}" for c, t in special.items() if t is not None]
        out.append(f"{char_class(WHITESPACE + _CONTROL + ''.join(special), negate=True)} {name}-0")
        return out

    ws = char_class(WHITESPACE)
    rules = {name: " | ".join(moves("")), f"{name}-ws": f"{ws} {name}-ws | {name}"}
    for state in states:
        rules[f"{name}-{number[state]}"] = f"( {ws} {name}-ws | {' | '.join(moves(state))} )?"
    return rules


_PLAIN_IN_LITERALS = "<>|/`.,:;!?'{}[]()*+=-#@$%&~^"
"""Printable characters written as themselves in a string literal (a class escapes them: ^ - ] matter there)."""


def _escape(char: str, *, in_class: bool) -> str:
    if char.isascii() and (char.isalnum() or char in " _" or (not in_class and char in _PLAIN_IN_LITERALS)):
        return char
    code = ord(char)
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char) or (
        f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}")


def literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    return '"' + "".join(_escape(c, in_class=False) for c in text) + '"'


NOT_UNICODE = "\\uD800-\\uDFFF\\U00110000-\\UFFFFFFFF"
"""Code points no valid UTF-8 text holds, as GBNF class ranges: surrogates and everything past U+10FFFF.

llama.cpp decodes a token's bytes leniently (``FF 8A 88 AB`` reads as U+3CA22B), so "every other
character" has to leave these out explicitly, or a byte-level vocabulary puts bytes into a name
that a strict UTF-8 decoder (Swift's JSON parser) refuses. Overlong forms (``E0 86 9F``) and bad
continuation bytes still decode to ordinary code points there: no grammar can refuse those, and
only an untrained model writes them."""


def char_class(chars: str, *, negate: bool = False) -> str:
    """A GBNF character class of ``chars`` (or of every other character that valid UTF-8 can hold)."""
    body = "".join(_escape(c, in_class=True) for c in sorted(set(chars)))
    return f"[^{body}{NOT_UNICODE}]" if negate else f"[{body}]"
