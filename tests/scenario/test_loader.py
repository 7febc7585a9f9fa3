"""Finding files by category and the content-hash parse cache."""

from __future__ import annotations

from pathlib import Path

from dndtune.events import ListSink
from dndtune.scenario.loader import find_scenario_files, load_scenarios
from tests.scenario.test_rules import GOOD


def _tree(root: Path) -> Path:
    (root / "combat").mkdir(parents=True)
    (root / "social").mkdir()
    (root / "combat" / "a.md").write_text(GOOD)
    (root / "social" / "b.md").write_text(GOOD.replace("Goblin Ambush", "Tavern Talk"))
    (root / "social" / "README.md").write_text("notes, not a scenario")
    return root


def test_categories_come_from_folders(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    assert [(p.name, c) for p, c in find_scenario_files([root])] == [("a.md", "combat"), ("b.md", "social")]
    assert [(p.name, c) for p, c in find_scenario_files([root / "social"])] == [("b.md", "social")]


def test_only_edited_files_are_reparsed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_scenarios(root, ListSink(), cache)
    assert (first.parsed, len(first.scenarios)) == (2, 2)
    second = load_scenarios(root, ListSink(), cache)
    assert second.parsed == 0
    assert [s.model_dump() for s in second.scenarios] == [s.model_dump() for s in first.scenarios]
    (root / "combat" / "a.md").write_text(GOOD.replace("17+1 = 18", "17+1 = 19"))
    third = load_scenarios(root, ListSink(), cache)
    assert third.parsed == 1
    assert [str(d) for d in third.errors] == [f"{root}/combat/a.md:19: error: wrong total: 17+1 = 18, not 19"]
    assert len(third.scenarios) == 1 and third.failed_files == [f"{root}/combat/a.md"]


def test_damaged_cache_entry_is_a_miss(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    cache = tmp_path / "cache"
    load_scenarios(root, ListSink(), cache)
    for entry in (cache / "scenarios").iterdir():
        entry.write_text("{not json")
    again = load_scenarios(root, ListSink(), cache)
    assert again.parsed == 2 and len(again.scenarios) == 2


def test_diagnostics_are_emitted_as_events(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    (root / "combat" / "a.md").write_text(GOOD.replace("HP 28/31", "HP 40/31"))
    sink = ListSink()
    load_scenarios(root, sink)
    assert sink.kinds()[0] == "stage.start" and sink.kinds()[-1] == "stage.done"
    errors = [e for e in sink.events if e.kind == "scenario.diagnostic"]
    assert errors[0].level == "error" and errors[0].data["line"] == 9
