"""Rewriting every free text of a scenario, and reading it all at once for collision checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dndtune.dataset.wordswap import words_of
from dndtune.scenario.models import Character, InventoryItem, Scenario, SystemContext

TextMap = Callable[[str], str]


def map_text(scenario: Scenario, fn: TextMap, *, party: Callable[[Character], Character] | None = None
             ) -> Scenario:
    """``scenario`` with ``fn`` applied to every free text (never to skills or numbers).

    ``party`` rewrites each party member after ``fn`` ran on its name and inventory (for fields
    that are set rather than rewritten, like a new race).
    """
    system = scenario.system

    def character(c: Character) -> Character:
        updated = c.model_copy(update={
            "name": fn(c.name),
            "inventory": tuple(InventoryItem(name=fn(i.name), quantity=i.quantity) for i in c.inventory),
        })
        return party(updated) if party is not None else updated

    new_system = SystemContext(
        role=_opt(fn, system.role), world=_opt(fn, system.world), location=_opt(fn, system.location),
        party=tuple(character(c) for c in system.party), notes=tuple(fn(n) for n in system.notes),
        line=system.line,
    )
    turns = tuple(
        t.model_copy(update={
            "text": fn(t.text),
            "rolls": tuple(r.model_copy(update={"character": _opt(fn, r.character), "raw": fn(r.raw)})
                           for r in t.rolls),
            "results": tuple(r.model_copy(update={"character": _opt(fn, r.character)}) for r in t.results),
        })
        for t in scenario.turns
    )
    return scenario.model_copy(update={"title": fn(scenario.title), "system": new_system, "turns": turns})


def _opt(fn: TextMap, value: str | None) -> str | None:
    return fn(value) if value is not None else None


def all_text(scenario: Scenario) -> str:
    """Every free text of the scenario, one per line (for collision and ambiguity checks)."""
    system = scenario.system
    parts = [scenario.title, system.role or "", system.world or "", system.location or "", *system.notes]
    for c in system.party:
        parts += [c.name, c.race or "", c.char_class or "", *(i.name for i in c.inventory)]
    for t in scenario.turns:
        parts.append(t.text)
        parts += [r.character or "" for r in t.results]
    return "\n".join(parts)


def unused(pool: Iterable[str], text: str, taken: set[str]) -> list[str]:
    """Pool entries that appear nowhere in ``text`` (any case) and are not already chosen."""
    present = words_of(text)
    return [p for p in pool if p not in taken and not any(w in present for w in words_of(p))]
