"""Shared scenarios for the dataset tests: one small inline scenario and the shipped corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.events import NullSink
from dndtune.scenario.loader import load_scenarios
from dndtune.scenario.models import Scenario
from dndtune.scenario.parser import parse_scenario

REPO = Path(__file__).resolve().parents[2]
TRAINING_DATA = REPO / "training-data"
QWEN_TEMPLATE = (Path(__file__).parent / "qwen_tools.jinja").read_text(encoding="utf-8")

SMALL = """\
# Goblin Ambush on the Triboar Trail
<!-- tags: goblins -->

## SYSTEM
Role: Dungeon Master. Narrate vividly, ask for rolls with [roll: skill].
World: Forgotten Realms
Location: Triboar Trail, a muddy cart road east of Phandalin
Party:
- Thorin Ironfist | Mountain Dwarf Fighter 3 | HP 28/31 | XP 900 | Inventory: battleaxe, healing potion x2
- Lyra Moonwhisper | High Elf Wizard 3 | HP 14/18 | XP 900 | Inventory: quarterstaff, 12 gp

## User
I scan the treeline for movement.

## DM
Thorin squints into the pines. [roll: perception]

## TOOLCALL
roll: perception (Thorin) = 1d20+1 = 17+1 = 18 vs DC 13: success

## DM
Three goblins crouch behind a log near Phandalin, and the dwarf spots them. Roll initiative! \
[roll: initiative (Thorin)] [roll: initiative (Lyra)]

## TOOLCALL
roll: initiative (Thorin) = 1d20+1 = 11+1 = 12
roll: initiative (Lyra) = 1d20+2 = 16+2 = 18

## DM
Lyra acts first. What do you do?

## User
Okay. Lyra casts Fire Bolt at the nearest goblin.

## DM
Lyra hurls a mote of fire. [roll: attack (Lyra)]

## TOOLCALL
roll: attack (Lyra) = 1d20+5 = 9+5 = 14 vs AC 15: miss

## DM
The bolt scorches the log instead, and the goblin ducks with a jeer.
"""


def parse(text: str, path: str = "training-data/combat/goblin-ambush.md", category: str = "combat") -> Scenario:
    result = parse_scenario(text, path, category)
    assert result.scenario is not None, [str(d) for d in result.diagnostics]
    assert not [d for d in result.diagnostics if d.is_error], [str(d) for d in result.diagnostics]
    return result.scenario


@pytest.fixture
def small() -> Scenario:
    return parse(SMALL)


@pytest.fixture(scope="session")
def shipped() -> list[Scenario]:
    loaded = load_scenarios(TRAINING_DATA, NullSink(), None)
    assert not loaded.failed_files, loaded.failed_files
    assert len(loaded.scenarios) >= 20
    return loaded.scenarios
