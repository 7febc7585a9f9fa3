"""Augmented copies of one scenario: the options, the per-copy generator and the validity check.

Every step takes the ``random.Random`` to draw from; the same seed always gives the same copies,
whatever else is in the corpus (each copy's generator is seeded from the scenario's own key). Each
copy is checked with the validator and dropped when it would not pass.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from dndtune.dataset.augment.characters import swap_characters
from dndtune.dataset.augment.dialogue import vary_dialogue
from dndtune.dataset.augment.dice import reroll_dice
from dndtune.dataset.augment.setting import swap_setting
from dndtune.scenario.diagnostics import Diagnostic
from dndtune.scenario.models import Scenario
from dndtune.scenario.validator import check_scenario


@dataclass(frozen=True)
class AugmentOptions:
    names: bool = True
    """Character names, races and classes."""
    settings: bool = True
    """World and the proper names of the Location."""
    dice: bool = True
    dialogue: bool = True

    @property
    def any(self) -> bool:
        return self.names or self.settings or self.dice or self.dialogue


@dataclass
class AugmentReport:
    produced: int = 0
    invalid: int = 0
    """Copies the validator rejected (dropped)."""
    duplicates: int = 0
    """Copies equal to the original or to an earlier copy (dropped)."""
    problems: list[Diagnostic] = field(default_factory=list)
    """Why the rejected copies failed, for a debug event."""

    def add(self, other: AugmentReport) -> None:
        self.produced += other.produced
        self.invalid += other.invalid
        self.duplicates += other.duplicates
        self.problems.extend(other.problems)


def copy_rng(seed: int, key: str, copy: int) -> random.Random:
    """The generator of one copy: string seeds hash the same on every machine and Python run."""
    return random.Random(f"{seed}:{key}:{copy}")


def augment_scenario(scenario: Scenario, *, copies: int, seed: int, options: AugmentOptions,
                     key: str | None = None) -> tuple[list[Scenario], AugmentReport]:
    """Up to ``copies`` distinct, valid variations of ``scenario`` (the original not included)."""
    report = AugmentReport()
    accepted: list[Scenario] = []
    if not options.any:
        return accepted, report
    for copy in range(1, copies + 1):
        variant = augment_once(scenario, copy_rng(seed, key or scenario.path, copy), options)
        if variant == scenario or variant in accepted:
            report.duplicates += 1
            continue
        errors = [d for d in check_scenario(variant) if d.is_error]
        if errors:
            report.invalid += 1
            report.problems.extend(errors)
            continue
        accepted.append(variant)
        report.produced += 1
    return accepted, report


def augment_once(scenario: Scenario, rng: random.Random, options: AugmentOptions) -> Scenario:
    """One variation; the steps run in a fixed order so a seed always means the same draws."""
    out = scenario
    if options.names:
        out = swap_characters(out, rng)
    if options.settings:
        out = swap_setting(out, rng)
    if options.dice:
        out = reroll_dice(out, rng)
    if options.dialogue:
        out = vary_dialogue(out, rng)
    return out
