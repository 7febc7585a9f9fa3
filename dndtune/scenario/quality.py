"""Data-quality checks across scenario files: duplicates, over-long turns, unrolled skills.

These are warnings about the collection, not errors in a file: the dataset still builds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

from dndtune.scenario.diagnostics import Diagnostic, Severity
from dndtune.scenario.models import Scenario, TurnRole
from dndtune.scenario.skills import ABILITY_SKILLS

NEAR_DUPLICATE_THRESHOLD = 0.8
"""Jaccard similarity of word 3-grams above which two DM turns count as near-duplicates."""
MIN_WORDS_FOR_NEAR_DUPLICATE = 8
CHARS_PER_TOKEN = 4.0
"""Rough English average, used when no tokenizer is given."""


@dataclass(frozen=True)
class QualityReport:
    diagnostics: list[Diagnostic]
    unrolled_skills: dict[str, list[str]]
    """Category -> the 18 ability skills never rolled in it (gaps a user may want to fill)."""


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = text.split()
    return frozenset(zip(words, words[1:], words[2:], strict=False))


def _warn(path: str, line: int, message: str) -> Diagnostic:
    return Diagnostic(path=path, line=line, severity=Severity.WARNING, message=message)


def find_duplicate_scenarios(scenarios: list[Scenario]) -> list[Diagnostic]:
    """Scenarios whose turns are the same text (whatever their titles and file names)."""
    by_body: dict[str, list[Scenario]] = defaultdict(list)
    for s in scenarios:
        by_body["\n".join(_normalise(t.text) for t in s.turns)].append(s)
    out = []
    for group in by_body.values():
        for dup in group[1:]:
            out.append(_warn(dup.path, 1, f"same turns as {group[0].path}: duplicate scenario"))
    return out


def find_near_duplicate_turns(scenarios: list[Scenario]) -> list[Diagnostic]:
    turns = []
    for s in scenarios:
        for t in s.turns:
            if t.role is TurnRole.DM:
                norm = _normalise(t.text)
                if len(norm.split()) >= MIN_WORDS_FOR_NEAR_DUPLICATE:
                    turns.append((s.path, t.line, _shingles(norm)))
    out = []
    for (pa, la, sa), (pb, lb, sb) in combinations(turns, 2):
        union = len(sa | sb)
        if union and len(sa & sb) / union >= NEAR_DUPLICATE_THRESHOLD:
            out.append(_warn(pb, lb, f"DM turn nearly repeats {pa}:{la}; vary the narration"))
    return out


def find_long_turns(scenarios: list[Scenario], max_tokens: int,
                    count_tokens: Callable[[str], int] | None = None) -> list[Diagnostic]:
    """Turns that alone exceed the recipe's sequence length (they would be cut in training)."""
    def estimate(text: str) -> int:
        return count_tokens(text) if count_tokens else int(len(text) / CHARS_PER_TOKEN) + 1

    out = []
    for s in scenarios:
        for t in s.turns:
            n = estimate(t.text)
            if n > max_tokens:
                out.append(_warn(s.path, t.line, f"turn is ~{n} tokens, over max_seq_length {max_tokens}; "
                                                 "split it or raise data.max_seq_length"))
    return out


def unrolled_skills(scenarios: list[Scenario]) -> dict[str, list[str]]:
    rolled: dict[str, set[str]] = defaultdict(set)
    for s in scenarios:
        rolled[s.category].update(r.skill for r in s.tool_calls)
    return {cat: [k for k in ABILITY_SKILLS if k not in skills] for cat, skills in sorted(rolled.items())}


def check_quality(scenarios: list[Scenario], max_tokens: int = 1024,
                  count_tokens: Callable[[str], int] | None = None) -> QualityReport:
    diagnostics = [
        *find_duplicate_scenarios(scenarios),
        *find_near_duplicate_turns(scenarios),
        *find_long_turns(scenarios, max_tokens, count_tokens),
    ]
    return QualityReport(diagnostics=sorted(diagnostics, key=lambda d: (d.path, d.line)),
                         unrolled_skills=unrolled_skills(scenarios))
