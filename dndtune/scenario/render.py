"""Scenario model -> Markdown, the inverse of the parser (used by augmentation and ``scenarios new``)."""

from __future__ import annotations

from dndtune.scenario.lines import format_character, format_result
from dndtune.scenario.models import Scenario, TurnRole
from dndtune.scenario.sections import CANONICAL_HEADERS


def render_scenario(scenario: Scenario) -> str:
    """Canonical Markdown. ``parse(render(s))`` equals ``s`` up to line numbers and the content hash."""
    out = [f"# {scenario.title}"]
    if scenario.tags:
        out.append(f"<!-- tags: {', '.join(scenario.tags)} -->")
    out += ["", "## SYSTEM"]
    system = scenario.system
    for key, value in (("Role", system.role), ("World", system.world), ("Location", system.location)):
        if value:
            out.append(f"{key}: {value}")
    out.extend(system.notes)
    if system.party:
        out.append("Party:")
        out.extend(f"- {format_character(c)}" for c in system.party)
    for turn in scenario.turns:
        out += ["", f"## {CANONICAL_HEADERS[turn.role.value]}"]
        if turn.role is TurnRole.TOOLCALL:
            out.extend(format_result(r) for r in turn.results)
        else:
            out.append(turn.text)
    return "\n".join(out) + "\n"
