"""Recipe text to YAML nodes, safely: decoding, PyYAML errors as one line, a line index of every key.

Split from :mod:`dndtune.recipe.loader` so the loader keeps to overrides and validation. Every
function raises or returns :class:`DndtuneError` naming the file and line, never a PyYAML trace.
"""

from __future__ import annotations

import yaml

from dndtune.errors import DndtuneError

Loc = tuple[str | int, ...]

MAX_NODES = 10_000
"""YAML values a recipe may hold once aliases are expanded: real recipes have about a hundred, and
the bound stops a "billion laughs" file (aliases of aliases) before the walk below expands it."""


def decode_recipe(raw: bytes, source: str) -> str:
    """The recipe text; a byte-order mark is dropped, other non-UTF-8 bytes are one error with their line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DndtuneError(f"recipe is not UTF-8 text (byte 0x{raw[exc.start]:02x})", path=source, line=line,
                           fix="save the file as UTF-8") from None


def yaml_error(exc: BaseException, text: str, source: str) -> DndtuneError:
    """One line for anything PyYAML refuses, at the line where it stopped."""
    if isinstance(exc, RecursionError):
        return DndtuneError("invalid YAML: nested too deeply", path=source)
    if isinstance(exc, yaml.reader.ReaderError):
        # Control characters (NUL, ...): PyYAML gives a character offset, not a line.
        offset_line = text.count("\n", 0, exc.position) + 1
        return DndtuneError(f"invalid YAML: control character #x{exc.character:04x} is not allowed",
                            path=source, line=offset_line)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = str(exc.problem or exc.context)
        if isinstance(exc, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
            tag = problem.rpartition(" ")[2].strip("'").replace("tag:yaml.org,2002:", "!!")
            return DndtuneError(f"YAML tag {tag} is not allowed in a recipe", path=source, line=line,
                                fix="a recipe holds plain values: remove the tag")
        return DndtuneError(f"invalid YAML: {problem}", path=source, line=line)
    return DndtuneError(f"invalid YAML: {one_line(str(exc))}", path=source)


def one_line(text: str) -> str:
    return " ".join(text.split())


class LineIndex:
    """Records the YAML line of every key and list item; refuses duplicate keys and alias bombs."""

    def __init__(self, lines: dict[Loc, int], source: str) -> None:
        self.lines = lines
        self.source = source
        self.seen = 0
        self.open: set[int] = set()

    def walk(self, node: yaml.Node, loc: Loc, line: int) -> None:
        """Index ``node`` found at ``loc``; ``line`` is where it is written or aliased (``*name``)."""
        self.seen += 1
        if self.seen > MAX_NODES:
            raise DndtuneError(f"recipe holds more than {MAX_NODES} values once its aliases are expanded",
                               path=self.source, line=line, fix="write the values out instead of nesting aliases")
        if id(node) in self.open:
            # An alias to a node that contains it: the value would be infinite.
            raise DndtuneError("invalid YAML: an alias refers to the value that contains it",
                               path=self.source, line=line)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                self._mapping(node, loc)
            elif isinstance(node, yaml.SequenceNode):
                for index, item in enumerate(node.value):
                    self.lines[(*loc, index)] = item.start_mark.line + 1
                    self.walk(item, (*loc, index), item.start_mark.line + 1)
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> None:
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                where = ".".join(str(p) for p in (*loc, key))
                raise DndtuneError(f"{where}: duplicate key", path=self.source, line=line,
                                   fix="keep one of them; YAML would silently use the last")
            seen.add(key)
            self.lines[(*loc, key)] = line
            self.walk(value_node, (*loc, key), line)
