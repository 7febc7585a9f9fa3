"""Formatter, new-from-template, index and quality checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.scenario.create import create_scenario, slugify, template_categories
from dndtune.scenario.formatter import format_text
from dndtune.scenario.index import build_index
from dndtune.scenario.parser import parse_or_raise, parse_scenario
from dndtune.scenario.quality import check_quality
from tests.scenario.test_rules import GOOD


def test_fmt_normalises_without_changing_meaning() -> None:
    messy = (GOOD.replace("## User", "##   user  ").replace("## TOOLCALL", "## toolcall")
             .replace("roll: perception (Thorin) = 1d20+1 = 17+1 = 18", "roll:perception(Thorin)=1d20 + 1=17 + 1=18")
             .replace("Thorin scans the treeline.", "Thorin scans the treeline.   \n\n\n"))
    formatted = format_text(messy)
    assert formatted == GOOD
    assert format_text(formatted) == formatted
    assert parse_or_raise(formatted, "s.md", "combat").turns == parse_or_raise(GOOD, "s.md", "combat").turns


def test_fmt_leaves_unreadable_toolcall_lines_alone() -> None:
    text = GOOD.replace("roll: perception (Thorin) = 1d20+1 = 17+1 = 18", "roll  perception 18")
    assert "roll  perception 18" in format_text(text)


def test_new_scenario_from_template(tmp_path: Path) -> None:
    if not template_categories():
        pytest.skip("no templates shipped yet")
    category = template_categories()[0]
    path = create_scenario(tmp_path, category, "The Sunken Vault")
    assert path == tmp_path / category / "the-sunken-vault.md"
    result = parse_scenario(path.read_text(), str(path), category)
    assert result.ok and result.scenario is not None and result.scenario.title == "The Sunken Vault"
    with pytest.raises(DndtuneError, match="already exists"):
        create_scenario(tmp_path, category, "The Sunken Vault")
    with pytest.raises(DndtuneError, match="no template for category 'nope'"):
        create_scenario(tmp_path, "nope", "X")


def test_slugify() -> None:
    assert slugify("Goblin Ambush: Part II!") == "goblin-ambush-part-ii"
    assert slugify("!!!") == "scenario"


def test_index_counts_per_category() -> None:
    a = parse_or_raise(GOOD, "a.md", "combat")
    b = parse_or_raise(GOOD.replace("Goblin", "Orc"), "b.md", "combat")
    index = build_index([a, b])
    assert index.entries[0].characters == ["Thorin Ironfist", "Lyra Moonwhisper"]
    assert index.entries[0].skills == ["perception"]
    totals = index.categories["combat"]
    assert (totals.scenarios, totals.dm_turns, totals.tool_calls, totals.skills["perception"]) == (2, 4, 2, 2)
    assert index.to_json()["categories"] == {
        "combat": {"scenarios": 2, "turns": 8, "dm_turns": 4, "tool_calls": 2, "skills": {"perception": 2}}}


def test_quality_finds_duplicates_long_turns_and_gaps() -> None:
    a = parse_or_raise(GOOD, "a.md", "combat")
    dup = parse_or_raise(GOOD.replace("# Goblin Ambush", "# Other Title"), "b.md", "combat")
    near = parse_or_raise(GOOD.replace("Three goblins crouch behind a log.",
                                       "Three goblins crouch low behind a mossy fallen log, bows drawn and ready.")
                          .replace("Thorin squints into the pines.",
                                   "Thorin squints into the dark pines, scanning each trunk and shadow for a sign "
                                   "of the ambushers."), "c.md", "combat")
    near2 = parse_or_raise(GOOD.replace("Thorin squints into the pines.",
                                        "Thorin squints into the dark pines, scanning each trunk and shadow for a "
                                        "sign of the ambushers!"), "d.md", "social")
    report = check_quality([a, dup, near, near2], max_tokens=5)
    found = [str(d) for d in report.diagnostics]
    assert "b.md:1: warning: same turns as a.md: duplicate scenario" in found
    assert any(m.startswith("d.md:15: warning: DM turn nearly repeats c.md:15") for m in found)
    assert any("over max_seq_length 5" in m for m in found)
    assert "perception" not in report.unrolled_skills["combat"]
    assert "stealth" in report.unrolled_skills["combat"]
