"""Markdown scenario -> :class:`Scenario` plus every problem of the file, in one pass.

Lenient on form (header case, ``HP: 28/31`` or ``HP 28/31``, ``Player``/``GM`` headers),
strict on meaning: the semantic rules live in :mod:`dndtune.scenario.validator` and run on
the model, so augmented scenarios are held to exactly the same rules.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field

from dndtune.scenario.diagnostics import Diagnostic, DiagnosticCollector, ScenarioError, has_errors
from dndtune.scenario.limits import clip
from dndtune.scenario.lines import find_markers, parse_character, parse_result_line
from dndtune.scenario.models import Character, RollResult, Scenario, SystemContext, Turn, TurnRole
from dndtune.scenario.sections import CANONICAL_HEADERS, Document, Section, split_document
from dndtune.scenario.validator import check_scenario

PARSER_VERSION = "2"
"""Bumped whenever parsing changes meaning, so cached parses are not reused across versions."""

FIELD_RE = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z ]{0,30}?)\s*:\s*(?P<value>.*)$")
PARTY_ITEM_RE = re.compile(r"^\s*[-*+]\s+(?P<text>.+)$")
BOM = "\ufeff"
TURN_ROLES = {"user": TurnRole.USER, "dm": TurnRole.DM, "toolcall": TurnRole.TOOLCALL}


@dataclass
class ParseResult:
    scenario: Scenario | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.scenario is not None and not has_errors(self.diagnostics)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_scenario(text: str, path: str, category: str) -> ParseResult:
    """Parse one scenario file's text. Never raises on bad input: problems become diagnostics.

    Linear in the length of ``text`` (the TUI re-runs it on every save), whatever the text holds.
    """
    out = DiagnosticCollector(path)
    # Editors on Windows save UTF-8 with a byte-order mark; it is not part of the title.
    text = text.removeprefix(BOM)
    _check_text(text, out)
    doc = split_document(text)
    if doc.unclosed_comment_line is not None:
        out.error(doc.unclosed_comment_line, "'<!--' is never closed, so everything after it would be "
                                             "trained on as text: add '-->' where the comment ends")
    if doc.title is None:
        out.error(1, "missing title: the file should start with '# Scenario title'")
    for number, line in doc.preamble:
        out.error(number, f"text outside any section: '{line.strip()[:60]}' (put it under a '## ' header)")
    system = _parse_system_sections(doc, out)
    turns, incomplete = _parse_turns(doc, out)
    if system is None:
        return ParseResult(None, _sorted(out.items))
    scenario = Scenario(
        path=path,
        title=doc.title or "",
        category=category,
        tags=doc.tags,
        system=system,
        turns=tuple(turns),
        content_hash=content_hash(text),
    )
    out.items.extend(check_scenario(scenario, incomplete_turns=incomplete))
    return ParseResult(scenario, _sorted(out.items))


def _check_text(text: str, out: DiagnosticCollector) -> None:
    """NUL bytes: no editor writes them into Markdown; they mean a binary or damaged file."""
    first = text.find("\0")
    if first == -1:
        return
    count = text.count("\0")
    more = f" ({count} in the file)" if count > 1 else ""
    out.error(text.count("\n", 0, first) + 1, f"NUL byte (\\x00) in the text{more}: a scenario is plain "
                                               "UTF-8 text; remove it, or move a binary file out of the folder")


def parse_or_raise(text: str, path: str, category: str) -> Scenario:
    result = parse_scenario(text, path, category)
    if result.scenario is None or not result.ok:
        raise ScenarioError(result.diagnostics)
    return result.scenario


def _sorted(items: list[Diagnostic]) -> list[Diagnostic]:
    # Stable by line so a user fixes a file top to bottom; duplicates collapse.
    return sorted(dict.fromkeys(items), key=lambda d: d.line)


def _parse_system_sections(doc: Document, out: DiagnosticCollector) -> SystemContext | None:
    systems = [s for s in doc.sections if s.kind == "system"]
    if not systems:
        line = doc.sections[0].line if doc.sections else max(doc.title_line, 1)
        out.error(line, "missing '## SYSTEM' section (it comes first and holds Role, World, Location, Party)")
        return None
    for extra in systems[1:]:
        out.error(extra.line, "second '## SYSTEM' section: a scenario has exactly one, before any turn")
    if doc.sections[0] is not systems[0]:
        out.error(systems[0].line, "'## SYSTEM' must be the first section")
    return _parse_system(systems[0], out)


def _parse_system(section: Section, out: DiagnosticCollector) -> SystemContext:
    values: dict[str, str] = {}
    party: list[Character] = []
    notes: list[str] = []
    in_party = False
    if not section.content_lines():
        out.error(section.line, "empty SYSTEM section (it needs at least 'Role: ...')")
    for number, line in section.content_lines():
        item = PARTY_ITEM_RE.match(line)
        if in_party and item:
            character, problems = parse_character(item.group("text"), number)
            for problem in problems:
                out.error(number, problem)
            if character is not None:
                party.append(character)
            continue
        in_party = False
        fm = FIELD_RE.match(line)
        key = fm.group("key").strip().lower() if fm else ""
        if fm and key in ("role", "world", "location", "setting"):
            canonical = "world" if key == "setting" else key
            if canonical in values:
                out.error(number, f"'{fm.group('key')}' is given twice in SYSTEM")
            values[canonical] = fm.group("value").strip()
            if not values[canonical]:
                out.error(number, f"'{fm.group('key')}:' has no value")
        elif fm and key == "party":
            in_party = True
            if fm.group("value").strip():
                out.error(number, "write party members on their own lines below 'Party:', each starting with '- '")
        elif item:
            out.error(number, "party member line outside 'Party:' (put it right below the 'Party:' line)")
        else:
            notes.append(line.strip())
    return SystemContext(
        role=values.get("role"),
        world=values.get("world"),
        location=values.get("location"),
        party=tuple(party),
        notes=tuple(notes),
        line=section.line,
    )


def _parse_turns(doc: Document, out: DiagnosticCollector) -> tuple[list[Turn], set[int]]:
    """The turns, and the indexes of those with unreadable markers or result lines."""
    turns: list[Turn] = []
    incomplete: set[int] = set()
    for section in doc.sections:
        if section.kind == "system":
            continue
        if section.kind is None:
            known = list(CANONICAL_HEADERS.values())
            close = difflib.get_close_matches(section.header.upper(), [k.upper() for k in known], n=1, cutoff=0.5)
            hint = f" (did you mean '## {known[[k.upper() for k in known].index(close[0])]}'?)" if close else ""
            out.error(section.line, f"unknown section '## {clip(section.header)}'{hint}; sections are "
                                    "SYSTEM, User, DM and TOOLCALL")
            continue
        role = TURN_ROLES[section.kind]
        body = section.text()
        if not body.strip():
            out.error(section.line, f"empty {CANONICAL_HEADERS[section.kind]} section")
            # Kept as a turn so the order rules do not report a second, derived problem.
            turns.append(Turn(role=role, text="", line=section.line, body_line=section.line))
            incomplete.add(len(turns) - 1)
            continue
        first = section.first_content_line()
        text = body.strip()
        if role is TurnRole.DM:
            requests, problems = find_markers(text, first)
            for marker_line, message in problems:
                out.error(marker_line, message)
            if problems:
                incomplete.add(len(turns))
            turns.append(Turn(role=role, text=text, line=section.line, body_line=first, rolls=tuple(requests)))
        elif role is TurnRole.TOOLCALL:
            results: list[RollResult] = []
            for number, line in section.content_lines():
                result, problem = parse_result_line(line, number)
                if problem:
                    out.error(number, problem)
                    incomplete.add(len(turns))
                elif result is not None:
                    results.append(result)
            turns.append(Turn(role=role, text=text, line=section.line, body_line=first, results=tuple(results)))
        else:
            turns.append(Turn(role=role, text=text, line=section.line, body_line=first))
    return turns, incomplete
