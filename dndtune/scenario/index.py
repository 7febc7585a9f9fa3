"""``dndtune scenarios index``: metadata per scenario and totals per category, so balance shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from dndtune.scenario.models import Scenario, TurnRole


@dataclass(frozen=True)
class ScenarioEntry:
    path: str
    title: str
    category: str
    tags: list[str]
    characters: list[str]
    skills: list[str]
    turns: int
    dm_turns: int
    tool_calls: int
    content_hash: str


@dataclass
class CategoryTotals:
    scenarios: int = 0
    turns: int = 0
    dm_turns: int = 0
    tool_calls: int = 0
    skills: Counter[str] = field(default_factory=Counter)


@dataclass
class ScenarioIndex:
    entries: list[ScenarioEntry]
    categories: dict[str, CategoryTotals]

    def to_json(self) -> dict[str, object]:
        return {
            "scenarios": [asdict(e) for e in self.entries],
            "categories": {
                name: {"scenarios": t.scenarios, "turns": t.turns, "dm_turns": t.dm_turns,
                       "tool_calls": t.tool_calls, "skills": dict(sorted(t.skills.items()))}
                for name, t in sorted(self.categories.items())
            },
        }


def entry_for(s: Scenario) -> ScenarioEntry:
    return ScenarioEntry(
        path=s.path,
        title=s.title,
        category=s.category,
        tags=list(s.tags),
        characters=[c.name for c in s.system.party],
        skills=sorted({r.skill for r in s.tool_calls}),
        turns=len(s.turns),
        dm_turns=sum(1 for t in s.turns if t.role is TurnRole.DM),
        tool_calls=len(s.tool_calls),
        content_hash=s.content_hash,
    )


def build_index(scenarios: list[Scenario]) -> ScenarioIndex:
    entries = [entry_for(s) for s in scenarios]
    categories: dict[str, CategoryTotals] = {}
    for s, e in zip(scenarios, entries, strict=True):
        totals = categories.setdefault(e.category, CategoryTotals())
        totals.scenarios += 1
        totals.turns += e.turns
        totals.dm_turns += e.dm_turns
        totals.tool_calls += e.tool_calls
        totals.skills.update(r.skill for r in s.tool_calls)
    return ScenarioIndex(entries=entries, categories=categories)
