"""The recipe values the Recipe screen lets a user edit, and how edits are checked and saved.

Edits are ``--set``-style overrides handed to the recipe loader, so the TUI validates with
exactly the rules (and the error wording) the CLI uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from dndtune.errors import DndtuneError
from dndtune.recipe.loader import parse_recipe
from dndtune.recipe.schema import Recipe
from dndtune.units import format_size


@dataclass(frozen=True)
class EditableField:
    key: str
    """Dotted path in the recipe, as ``--set`` takes it."""
    label: str
    current: Callable[[Recipe], str]
    placeholder: str = ""


def _list(values: Sequence[str]) -> str:
    return f"[{', '.join(values)}]"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _size(recipe: Recipe) -> str:
    return format_size(recipe.target.size_limit).replace(" ", "")


FIELDS: tuple[EditableField, ...] = (
    EditableField("base_model.name_or_path", "base model",
                  lambda r: r.base_model.name_or_path or "", "empty: the profile's model"),
    EditableField("train.epochs", "epochs", lambda r: f"{r.train.epochs:g}"),
    EditableField("train.max_steps", "max steps",
                  lambda r: "" if r.train.max_steps is None else str(r.train.max_steps), "empty: use epochs"),
    EditableField("train.lr", "learning rate", lambda r: f"{r.train.lr:g}"),
    EditableField("lora.r", "LoRA r", lambda r: str(r.lora.r)),
    EditableField("train.batch_size", "batch size", lambda r: str(r.train.batch_size)),
    EditableField("target.size_limit", "size limit", _size, "e.g. 2GB"),
    EditableField("target.quant_ladder", "quant ladder", lambda r: _list(r.target.quant_ladder),
                  "e.g. [Q8_0, Q4_0, Q4_0+emb=Q4_0]"),
    EditableField("target.prefer", "export prefers", lambda r: r.target.prefer, "first_fit or smallest"),
    EditableField("target.gate.scores", "gate scores", lambda r: _list(r.target.gate.scores),
                  "e.g. [roll_f1, exact_skill]"),
    EditableField("target.gate.tolerance", "gate tolerance", lambda r: f"{r.target.gate.tolerance:g}",
                  "largest drop vs f16, e.g. 0.02"),
    EditableField("target.prune.allowed", "allow pruning", lambda r: _bool(r.target.prune.allowed),
                  "true or false"),
    EditableField("target.allow_drift", "allow drift", lambda r: _bool(r.target.allow_drift), "true or false"),
)
FIELD_KEYS = tuple(f.key for f in FIELDS)


def overrides_for(edits: Mapping[str, str]) -> list[str]:
    """``key=value`` strings in field order; an empty value means null (the loader reads YAML)."""
    return [f"{key}={edits[key]}" for key in FIELD_KEYS if key in edits]


def field_errors(text: str, source: str, edits: Mapping[str, str]) -> dict[str, str]:
    """Each edited field checked on its own, so one bad value does not hide the others' state."""
    errors: dict[str, str] = {}
    for key, value in edits.items():
        try:
            parse_recipe(text, source=source, overrides=[f"{key}={value}"])
        except DndtuneError as exc:
            errors[key] = _short(exc, key)
    return errors


def resolve(text: str, source: str, edits: Mapping[str, str]) -> Recipe:
    """The recipe with every edit applied; raises :class:`DndtuneError` like the CLI would."""
    return parse_recipe(text, source=source, overrides=overrides_for(edits))


def _short(exc: DndtuneError, key: str) -> str:
    # The loader prefixes "--set key=value: key: "; under the field itself only the reason matters.
    message = exc.message
    return message.removeprefix(f"{key}: ")


def _typed(recipe: Recipe, key: str, raw: str) -> Any:
    # Numbers as the schema parsed them (YAML would keep "1e-4" a string); sizes as the user wrote them.
    if key == "target.size_limit" or not raw.strip():
        return raw.strip() or None
    value: Any = recipe
    for part in key.split("."):
        value = getattr(value, part)
    return value


def edited_yaml(text: str, edits: Mapping[str, str], resolved: Recipe, origin: str) -> str:
    """The original recipe's mapping with the edits written in (comments are not kept)."""
    data: dict[str, Any] = yaml.safe_load(text) or {}
    for key, raw in edits.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = _typed(resolved, key, raw)
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return f"# Made from {origin} in the dndtune TUI.\n{body}"
