"""Every shipped scenario parses cleanly, and rendering then re-parsing gives the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.events import NullSink
from dndtune.scenario.formatter import format_text
from dndtune.scenario.loader import find_scenario_files, load_scenarios
from dndtune.scenario.models import Scenario
from dndtune.scenario.parser import parse_scenario
from dndtune.scenario.render import render_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = find_scenario_files([ROOT / "training-data"])
TEMPLATES = sorted((ROOT / "dndtune" / "scenario" / "templates").glob("*.md"))


def _without_lines(s: Scenario) -> dict[str, object]:
    data = s.model_dump()

    def strip(obj: object) -> object:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in ("line", "body_line", "content_hash", "raw")}
        if isinstance(obj, list | tuple):
            return [strip(v) for v in obj]
        return obj

    return strip(data)  # type: ignore[return-value]


def test_ships_enough_scenarios() -> None:
    categories = {category for _, category in SHIPPED}
    assert len(SHIPPED) >= 20
    assert len(categories) >= 5


@pytest.mark.parametrize(("path", "category"), SHIPPED, ids=[p.name for p, _ in SHIPPED])
def test_shipped_scenario_is_clean_and_round_trips(path: Path, category: str) -> None:
    result = parse_scenario(path.read_text(encoding="utf-8"), str(path), category)
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    assert result.scenario is not None
    again = parse_scenario(render_scenario(result.scenario), str(path), category)
    assert again.ok and again.scenario is not None
    assert _without_lines(again.scenario) == _without_lines(result.scenario)


@pytest.mark.parametrize("path", SHIPPED and [p for p, _ in SHIPPED], ids=[p.name for p, _ in SHIPPED])
def test_shipped_scenario_is_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, f"run: dndtune scenarios fmt {path}"


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_templates_are_valid(path: Path) -> None:
    text = path.read_text(encoding="utf-8").replace("{title}", "A Title")
    result = parse_scenario(text, str(path), path.stem)
    assert result.ok, [str(d) for d in result.diagnostics]


def test_loader_reads_everything_shipped() -> None:
    result = load_scenarios(ROOT / "training-data", NullSink())
    assert result.errors == []
    assert len(result.scenarios) == len(SHIPPED)
