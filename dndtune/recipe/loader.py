"""Load a recipe from YAML: find it by name, apply ``--set`` overrides, validate, report one line.

Errors name the file and the YAML line of the offending key (``recipes/mobile.yaml:12: train.lr:
must be > 0``), or the override that caused them (``--set train.lr=-1: train.lr: must be > 0``),
because a user fixing a recipe needs the place, not a pydantic traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dndtune.errors import DndtuneError
from dndtune.recipe.schema import Recipe
from dndtune.recipe.yaml_text import LineIndex, Loc, decode_recipe, yaml_error

RECIPE_SUFFIXES = (".yaml", ".yml")
_SECTIONS = tuple(name for name in Recipe.model_fields if name != "source_path")


def recipe_dirs(cwd: Path | None = None) -> list[Path]:
    """Folders searched for a recipe given by name: ``./recipes``, then the source checkout's ``recipes/``."""
    here = (cwd or Path.cwd()) / "recipes"
    shipped = Path(__file__).resolve().parents[2] / "recipes"
    dirs = [here]
    if shipped.resolve() != here.resolve():
        dirs.append(shipped)
    return [d for d in dirs if d.is_dir()]


def list_recipes(cwd: Path | None = None) -> list[Path]:
    """Every recipe file reachable by name, first occurrence of each name wins."""
    seen: dict[str, Path] = {}
    for folder in recipe_dirs(cwd):
        for path in sorted(folder.iterdir()):
            if path.suffix in RECIPE_SUFFIXES and path.stem not in seen:
                seen[path.stem] = path
    return [seen[name] for name in sorted(seen)]


def find_recipe(path_or_name: str, cwd: Path | None = None) -> Path:
    """The path as given when it exists, else ``recipes/<name>.yaml``.

    ``mobile`` and ``mobile.yaml`` both find ``recipes/mobile.yaml``: the way users type it.
    """
    given = Path(path_or_name).expanduser()
    if not given.is_absolute() and cwd is not None:
        given = cwd / given
    if given.is_file():
        return given
    stem = Path(path_or_name).name
    for suffix in RECIPE_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for folder in recipe_dirs(cwd):
        for suffix in RECIPE_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    if given.is_dir():
        # Checked after the name lookup: a folder called "mobile" must not hide recipes/mobile.yaml.
        raise DndtuneError("recipe is a folder, not a file", path=path_or_name,
                           fix="give the YAML file inside it, e.g. recipes/demo-cpu.yaml")
    known = ", ".join(p.stem for p in list_recipes(cwd)) or "none found"
    raise DndtuneError(f"recipe not found: {path_or_name}",
                       fix=f"give a path to a YAML file or one of the shipped names: {known}")


def load_recipe(path_or_name: str, overrides: Sequence[str] = (), *, cwd: Path | None = None) -> Recipe:
    """Find, read, override and validate a recipe; any problem raises one-line :class:`DndtuneError`."""
    path = find_recipe(path_or_name, cwd)
    source = _display(path, cwd)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DndtuneError(f"cannot read recipe: {exc.strerror or exc}", path=source) from exc
    recipe = parse_recipe(decode_recipe(raw, source), source=source, overrides=overrides)
    return recipe.model_copy(update={"source_path": path.resolve()})


def parse_recipe(text: str, *, source: str = "<recipe>", overrides: Sequence[str] = ()) -> Recipe:
    """Validate recipe YAML text; ``source`` is only used to name the file in errors."""
    data, lines = _read_yaml(text, source)
    if "source_path" in data:
        raise DndtuneError("source_path: unknown key (the loader sets it)", path=source,
                           line=lines.get(("source_path",)))
    applied: list[_Override] = []
    for raw in overrides:
        override = _parse_override(raw)
        _apply_override(data, override)
        applied.append(override)
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, data, lines, source, applied) from None


def dump_recipe(recipe: Recipe) -> str:
    """The fully resolved recipe as YAML (defaults filled in, sizes in bytes) for plans and run folders."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# --- YAML with line numbers ------------------------------------------------------------------


def _read_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[Loc, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError) as exc:
        raise yaml_error(exc, text, source) from None
    if node is None:
        raise DndtuneError("recipe is empty", path=source, fix="start from recipes/demo-cpu.yaml")
    if not isinstance(node, yaml.MappingNode):
        raise DndtuneError("a recipe must be a mapping of sections (base_model:, data:, train: ...)",
                           path=source, line=node.start_mark.line + 1)
    lines: dict[Loc, int] = {(): node.start_mark.line + 1}
    LineIndex(lines, source).walk(node, (), node.start_mark.line + 1)
    try:
        # Safe-loaded: a !!python/... tag cannot run anything; it only fails here, as one line.
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise yaml_error(exc, text, source) from None
    # An empty section (every key commented out) means "all defaults", not an error.
    for section in _SECTIONS:
        if section in data and data[section] is None:
            data[section] = {}
    return data, lines


# --- --set overrides ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Override:
    raw: str
    path: tuple[str, ...]
    value: Any = field(default=None)


def _parse_override(raw: str) -> _Override:
    key, sep, value_text = raw.partition("=")
    parts = tuple(p.strip() for p in key.strip().split("."))
    if not sep or not all(parts):
        raise DndtuneError(f"--set {raw}: expected KEY=VALUE with a dotted key, e.g. --set train.lr=1e-4")
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else None
    except (yaml.YAMLError, RecursionError) as exc:
        # Same wording as in a file, without the line number, which would be the value's own.
        error = yaml_error(exc, value_text, f"--set {raw}")
        raise DndtuneError(error.message, path=error.path, fix=error.fix) from None
    return _Override(raw=raw, path=parts, value=value)


def _apply_override(data: dict[str, Any], override: _Override) -> None:
    node: dict[str, Any] = data
    for depth, part in enumerate(override.path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(override.path[: depth + 1])
            raise DndtuneError(f"--set {override.raw}: {where} is a value, not a section")
        node = child
    node[override.path[-1]] = override.value


# --- pydantic errors -> one line -------------------------------------------------------------------


# Error types raised by dndtune.recipe.schema: already worded for users.
_OWN_ERRORS = frozenset({"field_error", "size", "unknown_profile", "weight", "empty", "scheduler", "quant",
                         "plain_number"})

_COMPARISONS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}

_KIND_WORDS = {
    "list_type": "a list", "string_type": "a string", "dict_type": "a mapping", "model_type": "a mapping",
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "path_type": "a path", "none_required": "null",
    "finite_number": "a finite number",
}


def _first_error(exc: ValidationError, data: dict[str, Any], lines: dict[Loc, int], source: str,
                 overrides: list[_Override]) -> DndtuneError:
    grouped: dict[Loc, list[Any]] = {}
    for err in exc.errors(include_url=False):
        grouped.setdefault(_data_loc(err, data), []).append(err)

    def sort_key(loc: Loc) -> tuple[int, int]:
        return (0 if _from_override(loc, overrides) else 1, _line_for(loc, lines))

    loc = min(grouped, key=sort_key)
    errors = grouped[loc]
    dotted = ".".join(str(p) for p in loc) or "recipe"
    message = _describe(errors, loc)
    override = _from_override(loc, overrides)
    if override is not None:
        return DndtuneError(f"{dotted}: {message}", path=f"--set {override.raw}")
    return DndtuneError(f"{dotted}: {message}", path=source, line=_line_for(loc, lines))


def _data_loc(err: Any, data: dict[str, Any]) -> Loc:
    """The error's location as a path through the recipe, minus pydantic's union-branch tags."""
    raw: list[str | int] = list(err["loc"])
    ctx = err.get("ctx") or {}
    if err["type"] == "field_error" and "field" in ctx:
        raw.extend(str(ctx["field"]).split("."))
    loc: list[str | int] = []
    node: Any = data
    model: type[BaseModel] | None = Recipe
    for part in raw:
        if _has(node, part):
            loc.append(part)
            node = node[part]
        elif model is not None and isinstance(part, str) and part in model.model_fields:
            loc.append(part)
            node = None
        else:
            continue
        model = _submodel(model, part)
    return tuple(loc)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _submodel(model: type[BaseModel] | None, part: str | int) -> type[BaseModel] | None:
    if model is None or not isinstance(part, str) or part not in model.model_fields:
        return None
    annotation = model.model_fields[part].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_at(loc: Loc) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Recipe
    for part in loc:
        model = _submodel(model, part)
    return model


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _from_override(loc: Loc, overrides: list[_Override]) -> _Override | None:
    # The last override touching this place (or a section above it) is the one that stuck.
    for override in reversed(overrides):
        path: Loc = override.path
        if loc[: len(path)] == path or (loc and path[: len(loc)] == loc):
            return override
    return None


def _describe(errors: list[Any], loc: Loc) -> str:
    first = errors[0]
    kind = first["type"]
    ctx = first.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if len(errors) > 1 and all(e["type"] in (*_KIND_WORDS, "literal_error") for e in errors):
        # A union (e.g. a list of modules or "profile"): say what any branch would accept.
        wanted = [_KIND_WORDS.get(e["type"]) or str((e.get("ctx") or {}).get("expected")) for e in errors]
        return f"must be {' or '.join(dict.fromkeys(wanted))} (got {_show(first['input'])})"
    if kind == "missing":
        return "required"
    if kind in _COMPARISONS:
        op = _COMPARISONS[kind]
        bound = next(iter(ctx.values()))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {op} {bound} (got {_show(first['input'])})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_show(first['input'])})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {_show(first['input'])})"
    if kind in _KIND_WORDS:
        return f"must be {_KIND_WORDS[kind]} (got {_show(first['input'])})"
    message = str(first["msg"])
    if kind in _OWN_ERRORS:
        return message
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _unknown_key(loc: Loc) -> str:
    model = _model_at(loc[:-1])
    if model is None:
        return "unknown key"
    known = [name for name in model.model_fields if name != "source_path"]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (known: {', '.join(known)})"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _display(path: Path, cwd: Path | None) -> str:
    base = (cwd or Path.cwd()).resolve()
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path)
