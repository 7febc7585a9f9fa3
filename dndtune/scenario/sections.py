"""First pass over a scenario file: title, tags and ``## Header`` sections, each with its line.

Kept separate from the parser so the formatter can reuse the exact same section boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Headers and titles are matched as a prefix, then trailing spaces and closing #s are cut with
# rstrip: a lazy ``(.*?)\s*#*\s*$`` regex takes quadratic time on a line with a long run of spaces.
HEADER_RE = re.compile(r"^##\s++")
TITLE_RE = re.compile(r"^#\s++")
TAGS_START_RE = re.compile(r"<!--\s*+tags\s*+:", re.IGNORECASE)
COMMENT_OPEN, COMMENT_CLOSE = "<!--", "-->"

# Header spellings people actually write, mapped to the canonical section kind.
SECTION_ALIASES: dict[str, str] = {
    "system": "system",
    "user": "user",
    "player": "user",
    "dm": "dm",
    "gm": "dm",
    "dungeonmaster": "dm",
    "toolcall": "toolcall",
    "tool": "toolcall",
    "toolresult": "toolcall",
}
CANONICAL_HEADERS = {"system": "SYSTEM", "user": "User", "dm": "DM", "toolcall": "TOOLCALL"}


def match_header(line: str) -> str | None:
    """The name of a ``## Name ##`` header line (``""`` for a bare ``## ``), or None if it is not one."""
    m = HEADER_RE.match(line)
    return None if m is None else line[m.end():].rstrip().rstrip("#").rstrip()


def match_title(line: str) -> str | None:
    """The title of a ``# Title`` line, or None. At least one character, as the header rule had it."""
    m = TITLE_RE.match(line)
    if m is None or m.end() == len(line.rstrip()):
        return None
    rest = line[m.end():].rstrip()
    return rest.rstrip("#").rstrip() or rest[:1]


def section_kind(header: str) -> str | None:
    key = re.sub(r"[\s_\-]+", "", header.lower())
    return SECTION_ALIASES.get(key)


@dataclass
class Section:
    header: str
    kind: str | None
    line: int
    """1-based line of the ``## Header``."""
    body: list[tuple[int, str]] = field(default_factory=list)
    """(line number, text) of every body line, comments blanked out, trailing whitespace kept off."""

    def text(self) -> str:
        return "\n".join(t for _, t in self.body).strip("\n")

    def content_lines(self) -> list[tuple[int, str]]:
        return [(n, t) for n, t in self.body if t.strip()]

    def first_content_line(self) -> int:
        lines = self.content_lines()
        return lines[0][0] if lines else self.line


@dataclass
class Document:
    title: str | None
    title_line: int
    tags: tuple[str, ...]
    preamble: list[tuple[int, str]]
    """Non-blank lines before the first section other than the title (an error if any)."""
    sections: list[Section]
    unclosed_comment_line: int | None = None
    """Line of a ``<!--`` that no ``-->`` closes: its text stays in the file's turns, so it is an error."""


def find_comments(text: str) -> tuple[list[tuple[int, int]], int | None]:
    """(start, end) of every ``<!-- ... -->``, and the offset of an unclosed ``<!--`` (or None).

    One left-to-right pass with ``str.find``: the regex ``<!--.*?-->`` rescans to the end of the
    text for every unclosed ``<!--``, quadratic in their number.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    while (start := text.find(COMMENT_OPEN, pos)) != -1:
        end = text.find(COMMENT_CLOSE, start + len(COMMENT_OPEN))
        if end == -1:
            return spans, start
        pos = end + len(COMMENT_CLOSE)
        spans.append((start, pos))
    return spans, None


def _find_tags(text: str) -> tuple[str, ...]:
    """The tags of the first ``<!-- tags: a, b -->`` (its ``<!--`` may sit inside another comment)."""
    pos = 0
    while (start := text.find(COMMENT_OPEN, pos)) != -1:
        head = TAGS_START_RE.match(text, start)
        if head is not None:
            end = text.find(COMMENT_CLOSE, head.end())
            if end == -1:
                return ()  # no later '<!--' can be closed either
            return tuple(t.strip() for t in text[head.end():end].split(",") if t.strip())
        pos = start + 1
    return ()


def _blank_comments(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace HTML comments by spaces, keeping newlines so line numbers stay true."""
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        parts.append(text[pos:start])
        parts.append(re.sub(r"[^\n]", " ", text[start:end]))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def split_document(text: str) -> Document:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    spans, unclosed = find_comments(text)
    lines = _blank_comments(text, spans).split("\n")
    title: str | None = None
    title_line = 1
    preamble: list[tuple[int, str]] = []
    sections: list[Section] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        name = match_header(line)
        if name is not None:
            sections.append(Section(header=name, kind=section_kind(name), line=number))
            continue
        if sections:
            sections[-1].body.append((number, line))
            continue
        if not line.strip():
            continue
        title_text = match_title(line)
        if title is None and title_text is not None and not preamble:
            title, title_line = title_text, number
        else:
            preamble.append((number, line))
    return Document(title=title, title_line=title_line, tags=_find_tags(text), preamble=preamble,
                    sections=sections,
                    unclosed_comment_line=None if unclosed is None else text.count("\n", 0, unclosed) + 1)
