"""Deterministic held-out split by scenario (never by turn: turns of one story leak into each other)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import PurePath

from dndtune.scenario.models import Scenario


def scenario_key(scenario: Scenario) -> str:
    """``category/file.md``: the same on every machine, whatever folder the corpus was read from."""
    return f"{scenario.category}/{PurePath(scenario.path).name}"


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def eval_count(total: int, fraction: float) -> int:
    """Scenarios to hold out: ``round(total * fraction)``, at least 1 when there are two or more
    and the fraction is not zero, and never all of them."""
    if fraction <= 0 or total < 2:
        return 0
    return min(total - 1, max(1, round(total * fraction)))


def split_scenarios(scenarios: list[Scenario], eval_fraction: float, seed: int
                    ) -> tuple[list[Scenario], list[Scenario]]:
    """(train, eval), each in input order.

    Every scenario gets a rank from a hash of ``seed`` and its key. Held-out picks go round the
    categories (lowest rank first within each) so the eval set covers as many as it can, and a
    category's last training scenario is only taken when nothing else is left. Adding one file
    moves at most a few others between the sets.
    """
    wanted = eval_count(len(scenarios), eval_fraction)
    by_category: dict[str, list[Scenario]] = defaultdict(list)
    for s in sorted(scenarios, key=lambda s: _rank(seed, scenario_key(s))):
        by_category[s.category].append(s)
    order = sorted(by_category, key=lambda c: _rank(seed, f"category:{c}"))
    held: list[Scenario] = []
    round_index = 0
    while len(held) < wanted:
        # Round 0..: the round_index-th ranked scenario of each category that keeps one for training.
        picks = [by_category[c][round_index] for c in order if round_index < len(by_category[c]) - 1]
        if not picks:
            break
        held.extend(picks[: wanted - len(held)])
        round_index += 1
    if len(held) < wanted:
        # Only single-scenario categories are left: take them by rank, the fraction asked for it.
        rest = sorted((s for s in scenarios if s not in held), key=lambda s: _rank(seed, scenario_key(s)))
        held.extend(rest[: wanted - len(held)])
    held_keys = {scenario_key(s) for s in held}
    train = [s for s in scenarios if scenario_key(s) not in held_keys]
    evaluation = [s for s in scenarios if scenario_key(s) in held_keys]
    return train, evaluation
