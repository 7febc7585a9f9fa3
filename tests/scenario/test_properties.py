"""The parser never raises on arbitrary text: every problem becomes a diagnostic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dndtune.scenario.formatter import format_text
from dndtune.scenario.lines import parse_result_line
from dndtune.scenario.parser import parse_scenario

FRAGMENTS = st.sampled_from([
    "# Title", "## SYSTEM", "## User", "## DM", "## TOOLCALL", "## dm", "## Other", "Role: DM", "World: W",
    "Party:", "- A | Elf Wizard 3 | HP 5/9 | XP 10 | Inventory: x2 rope, 3 gp", "- B | HP 9/5", "- | |",
    "[roll: stealth (A)]", "[roll: ]", "[roll stealth", "roll: stealth (A) = 1d20+2 = 3+2 = 5",
    "roll: stealth = 2d6 = 1+1 = 9 vs DC 4: success", "roll: x = 0d0 = 0", "roll: = =", "<!-- tags: a -->",
    "<!--", "-->", "", "text", "=", "1d20+1 = 17+1 = 18", "vs AC 12: hit", "HP: 1/1",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAGMENTS, max_size=40))
def test_parser_total_on_scenario_like_text(parts: list[str]) -> None:
    text = "\n".join(parts)
    result = parse_scenario(text, "f.md", "c")
    for d in result.diagnostics:
        assert str(d).startswith("f.md:")
    format_text(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_total_on_any_text(text: str) -> None:
    parse_scenario(text, "f.md", "c")
    parse_result_line(text, 1)
    assert format_text(format_text(text)) == format_text(text)
