"""Compatibility check before heavy work: can this checkpoint be trained and exported as a game master?

Three things must hold: the architecture is one dndtune has a profile for, some chat template
(the checkpoint's own or the profile's) renders a dice-roll tool call and its result in a form
the profile can parse back, and the special tokens the template and the export rely on exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError
from dndtune.models.profiles import MODEL_TYPE_FAMILIES, SUPPORTED_ARCHITECTURES, ModelProfile, read_config

ROLL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "roll",
        "description": "Roll dice for a skill check, attack or saving throw.",
        "parameters": {
            "type": "object",
            "properties": {
                "dice": {"type": "string", "description": "Dice expression, e.g. 1d20+3"},
                "skill": {"type": "string", "description": "What the roll is for"},
            },
            "required": ["dice"],
        },
    },
}

PROBE_CALL = {"name": "roll", "arguments": {"dice": "1d20+3", "skill": "stealth"}}
PROBE_RESULT = '{"total": 17}'


def probe_conversation() -> list[dict[str, Any]]:
    """A minimal game-master exchange with one tool call and its result."""
    return [
        {"role": "system", "content": "You are the dungeon master."},
        {"role": "user", "content": "I sneak past the guard."},
        {"role": "assistant", "content": "Make a Stealth check.",
         "tool_calls": [{"type": "function", "function": dict(PROBE_CALL)}]},
        {"role": "tool", "name": "roll", "content": PROBE_RESULT},
        {"role": "assistant", "content": "The guard never turns around."},
    ]


@dataclass(frozen=True)
class ChatTemplates:
    """The templates a run uses: ``inference`` is saved with the model and exported to GGUF.

    ``training`` carries ``{% generation %}`` markers for assistant-only loss; ``None`` means the
    checkpoint's own template is kept and TRL's ``get_training_chat_template`` should patch it.
    """

    inference: str
    training: str | None
    from_profile: bool


def render_problem(tokenizer: Any, template: str, profile: ModelProfile) -> str | None:
    """Why ``template`` cannot express the probe tool exchange for ``profile``; ``None`` if it can."""
    try:
        text = tokenizer.apply_chat_template(probe_conversation(), tools=[ROLL_TOOL], chat_template=template,
                                             tokenize=False)
    except Exception as exc:  # a template is user-supplied code: any failure is a verdict, not a crash
        return f"rendering a tool call fails: {type(exc).__name__}: {exc}"
    if not isinstance(text, str):
        return "rendering returned no text"
    calls = profile.parse_tool_calls(text)
    if PROBE_CALL not in calls:
        block = profile.tool_format.call_open.strip()
        return f"the rendered tool call cannot be parsed back (expected a {block} block)"
    if PROBE_RESULT not in text:
        return "the tool result is not rendered"
    if profile.end_of_turn_token not in text:
        return f"turns do not end with {profile.end_of_turn_token}"
    return None


def choose_chat_templates(tokenizer: Any, profile: ModelProfile) -> ChatTemplates:
    """Keep the checkpoint's template where the profile prefers it and it works, else the profile's."""
    own = tokenizer.chat_template if isinstance(getattr(tokenizer, "chat_template", None), str) else None
    if profile.prefer_tokenizer_template and own and render_problem(tokenizer, own, profile) is None:
        if own == profile.chat_template:
            return ChatTemplates(own, profile.training_chat_template, from_profile=False)
        return ChatTemplates(own, None, from_profile=False)
    problem = render_problem(tokenizer, profile.chat_template, profile)
    if problem is not None:
        raise DndtuneError(f"the {profile.family} chat template cannot express tool calls: {problem}")
    return ChatTemplates(profile.chat_template, profile.training_chat_template, from_profile=True)


def check_compat(path: Path, profile: ModelProfile, *, tokenizer: Any | None = None) -> list[str]:
    """Problems that would make training or export fail for the model at ``path``; empty when fine.

    Loads only ``config.json`` and the tokenizer (seconds), never the weights.
    """
    problems: list[str] = []
    try:
        config = read_config(path)
    except DndtuneError as exc:
        return [f"cannot read {path / 'config.json'}: {exc.message}"]
    model_type = config.get("model_type")
    family = MODEL_TYPE_FAMILIES.get(str(model_type))
    if family is None:
        return [f"architecture {model_type!r} is not supported (supported: {SUPPORTED_ARCHITECTURES})"]
    if family != profile.family:
        problems.append(f"the model is {family} but the profile {profile.name} is {profile.family}")

    if tokenizer is None:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path))
        except Exception as exc:  # any loader failure means the folder is unusable
            return [*problems, f"the tokenizer does not load: {type(exc).__name__}: {exc}"]

    vocab = tokenizer.get_vocab()
    missing = [t for t in profile.required_tokens if t not in vocab]
    if missing:
        problems.append(f"tokens missing from the vocabulary: {', '.join(missing)}")
    else:
        try:
            choose_chat_templates(tokenizer, profile)
        except DndtuneError as exc:
            problems.append(exc.message)
    return problems
