"""First pass over a scenario file: title, tags and ``## Header`` sections, each with its line.

Kept separate from the parser so the formatter can reuse the exact same section boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADER_RE = re.compile(r"^##\s+(?P<name>.*?)\s*#*\s*$")
TITLE_RE = re.compile(r"^#\s+(?P<title>.+?)\s*#*\s*$")
TAGS_RE = re.compile(r"<!--\s*tags\s*:\s*(?P<tags>.*?)\s*-->", re.IGNORECASE | re.DOTALL)
COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)

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


def _blank_comments(text: str) -> str:
    """Replace HTML comments by spaces, keeping newlines so line numbers stay true."""
    return COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def split_document(text: str) -> Document:
    tags: tuple[str, ...] = ()
    tag_match = TAGS_RE.search(text)
    if tag_match:
        tags = tuple(t.strip() for t in tag_match.group("tags").split(",") if t.strip())
    lines = _blank_comments(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    title: str | None = None
    title_line = 1
    preamble: list[tuple[int, str]] = []
    sections: list[Section] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        header = HEADER_RE.match(line)
        if header:
            name = header.group("name")
            sections.append(Section(header=name, kind=section_kind(name), line=number))
            continue
        if sections:
            sections[-1].body.append((number, line))
            continue
        if not line.strip():
            continue
        title_match = TITLE_RE.match(line)
        if title is None and title_match and not preamble:
            title, title_line = title_match.group("title"), number
        else:
            preamble.append((number, line))
    return Document(title=title, title_line=title_line, tags=tags, preamble=preamble, sections=sections)
