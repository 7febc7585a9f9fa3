"""Generate the recipe reference in ``docs/recipes.md`` from the pydantic models and the profiles.

``python -m dndtune.recipe.docs --write docs/recipes.md`` rewrites the generated block;
``--check`` exits 1 when it is stale (a test runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dndtune.models.profiles import builtin_profiles
from dndtune.recipe.schema import Recipe, byte_size
from dndtune.units import format_size

BEGIN = "<!-- BEGIN generated reference: python -m dndtune.recipe.docs --write docs/recipes.md -->"
END = "<!-- END generated reference -->"

_BYTE_FIELDS = {("target", "size_limit")}


def recipe_reference() -> str:
    """Markdown: one table per recipe section, then the model profiles."""
    parts: list[str] = []
    for name, info in Recipe.model_fields.items():
        if info.exclude:
            continue
        section = _model_of(info)
        if section is None:
            continue
        parts.extend(_section(name, info.description or "", section))
    parts.append(_profiles_table())
    return "\n".join(parts).rstrip() + "\n"


def _section(path: str, description: str, model: type[BaseModel]) -> list[str]:
    lines = [f"### `{path}`", "", description, "", "| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[str, FieldInfo, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        sub = _model_of(info)
        if sub is not None:
            nested.append((name, info, sub))
            lines.append(f"| `{name}` | section | see `{path}.{name}` | {_cell(info.description or '')} |")
            continue
        default = _default(info, (path, name))
        lines.append(f"| `{name}` | {_cell(_type(info))} | {_cell(default)} | {_cell(info.description or '')} |")
    lines.append("")
    for name, info, sub in nested:
        lines.extend(_section(f"{path}.{name}", info.description or "", sub))
    return lines


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type(info: FieldInfo) -> str:
    text = "size (\"2GB\", \"1.5 GiB\" or bytes)" if _is_byte_size(info) else _annotation(info.annotation)
    rules = []
    for meta in info.metadata:
        if isinstance(meta, Gt):
            rules.append(f"> {meta.gt}")
        elif isinstance(meta, Ge):
            rules.append(f">= {meta.ge}")
        elif isinstance(meta, Lt):
            rules.append(f"< {meta.lt}")
        elif isinstance(meta, Le):
            rules.append(f"<= {meta.le}")
        elif isinstance(meta, MinLen):
            rules.append(f"length >= {meta.min_length}")
        elif isinstance(meta, MaxLen):
            rules.append(f"length <= {meta.max_length}")
    return ", ".join([text, *rules])


def _is_byte_size(info: FieldInfo) -> bool:
    # Int and Float carry a BeforeValidator too (refusing true/false): only byte_size marks a size.
    return any(getattr(meta, "func", None) is byte_size for meta in info.metadata)


def _annotation(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if a is type(None) else _annotation(a) for a in args)
    if origin is list:
        return f"list of {_annotation(args[0])}"
    if origin is dict:
        return f"map {_annotation(args[0])} → {_annotation(args[1])}"
    if origin is typing.Annotated:
        return _annotation(args[0])
    if annotation is Path:
        return "path"
    return {int: "int", float: "float", str: "string", bool: "bool"}.get(annotation, str(annotation))


def _default(info: FieldInfo, key: tuple[str, str]) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if key in _BYTE_FIELDS and isinstance(value, int):
        return f"{format_size(value)} ({value} bytes)"
    return _yaml_value(value)


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _cell(text: str, *, keep_pipes: bool = False) -> str:
    """Escape pipes for a table cell (or, with ``keep_pipes``, only those inside ``<|...|>`` tokens)."""
    if keep_pipes:
        return text.replace("<|", "<\\|").replace("|>", "\\|>")
    return text.replace("|", "\\|").replace("\n", " ")


def _profiles_table() -> str:
    lines = ["### Model profiles", "",
             "| profile | default checkpoint | family | parameters | end of turn | tool call written as |",
             "|---|---|---|---|---|---|"]
    for profile in builtin_profiles().values():
        call = profile.tool_format.call_open.strip()
        lines.append(_cell(f"| `{profile.name}` | `{profile.hf_id}` | {profile.family} | "
                           f"{profile.param_count() / 1e6:,.0f} M | `{profile.end_of_turn_token}` | `` {call} `` |",
                           keep_pipes=True))
    return "\n".join(lines) + "\n"


def update_doc(text: str) -> str:
    """``text`` with the generated block replaced (it must contain the two markers)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("the document lacks the generated-reference markers")
    return text[: start + len(BEGIN)] + "\n\n" + recipe_reference() + "\n" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=Path("docs/recipes.md"))
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    fresh = update_doc(text)
    if args.write:
        args.path.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != text:
        print(f"{args.path} is stale: run python -m dndtune.recipe.docs --write {args.path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
