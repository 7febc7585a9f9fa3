"""Augmentation: reproducible, consistent renames, honest dice, untouched DM rulings, always valid."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dndtune.dataset.augment import AugmentOptions, augment_once, augment_scenario
from dndtune.dataset.augment.characters import swap_characters
from dndtune.dataset.augment.dialogue import rephrase, vary_dialogue
from dndtune.dataset.augment.dice import reroll, reroll_dice
from dndtune.dataset.augment.setting import swap_setting
from dndtune.dataset.augment.text import all_text
from dndtune.dataset.wordswap import WordSwap, contains_word
from dndtune.scenario.dice import outcome_for
from dndtune.scenario.models import Outcome, RollResult, Scenario, TurnRole
from dndtune.scenario.parser import parse_scenario
from dndtune.scenario.render import render_scenario
from dndtune.scenario.validator import check_scenario
from tests.dataset.conftest import SMALL, parse

ALL = AugmentOptions()


def _errors(scenario: Scenario) -> list[str]:
    return [str(d) for d in check_scenario(scenario) if d.is_error]


def test_same_seed_same_copies(small: Scenario) -> None:
    first, _ = augment_scenario(small, copies=3, seed=7, options=ALL)
    again, _ = augment_scenario(small, copies=3, seed=7, options=ALL)
    other, _ = augment_scenario(small, copies=3, seed=8, options=ALL)
    assert first == again
    assert first != other
    assert len(first) == 3 and len({render_scenario(s) for s in first}) == 3


def test_copies_do_not_depend_on_the_rest_of_the_corpus(shipped: list[Scenario]) -> None:
    # Each copy is seeded from its scenario's key, so reordering or adding files changes nothing.
    target = shipped[3]
    alone, _ = augment_scenario(target, copies=2, seed=1, options=ALL, key="combat/x.md")
    for s in reversed(shipped):
        augment_scenario(s, copies=2, seed=1, options=ALL, key="combat/y.md")
    again, _ = augment_scenario(target, copies=2, seed=1, options=ALL, key="combat/x.md")
    assert alone == again


def test_renamed_characters_leave_no_trace_of_the_old_names(shipped: list[Scenario]) -> None:
    renamed = 0
    for seed in range(3):
        for scenario in shipped:
            out = swap_characters(scenario, random.Random(seed))
            text = all_text(out) + "\n" + "\n".join(r.raw for t in out.turns for r in t.rolls)
            for old, new in zip(scenario.system.party, out.system.party, strict=True):
                if old.name == new.name:
                    continue
                renamed += 1
                for word in set(old.name.split()) - set(new.name.split()):
                    assert not contains_word(text, word), (scenario.path, word)
            assert _errors(out) == []
    assert renamed > 50


def test_names_swap_through_markers_and_results(small: Scenario) -> None:
    out = swap_characters(small, random.Random(0))
    thorin, lyra = out.system.party
    assert thorin.name != "Thorin Ironfist" and lyra.name != "Lyra Moonwhisper"
    first = {t.role: t for t in out.turns if t.rolls or t.results}
    attack = [t for t in out.turns if t.role is TurnRole.DM and t.rolls][-1]
    assert attack.rolls[0].character == lyra.name.split()[0]
    assert f"[roll: attack ({lyra.name.split()[0]})]" in attack.text
    results = [r for t in out.turns for r in t.results]
    assert {r.character for r in results} == {thorin.name.split()[0], lyra.name.split()[0]}
    assert first  # the DM/TOOLCALL pair exists


def test_race_and_class_swap_rewrites_the_narration(small: Scenario) -> None:
    outs = [swap_characters(small, random.Random(seed)) for seed in range(10)]
    swapped = [o for o in outs if o.system.party[0].race != "Mountain Dwarf"]
    assert swapped
    for out in swapped:
        new_race = out.system.party[0].race
        assert new_race is not None
        dm = next(t.text for t in out.turns if "goblins crouch" in t.text)
        assert "dwarf" not in dm
        assert f"the {new_race.lower()} spots them" in dm
    # Fighter swaps only to Barbarian, Wizard only to Sorcerer/Warlock.
    assert {o.system.party[0].char_class for o in outs} <= {"Fighter", "Barbarian"}
    assert {o.system.party[1].char_class for o in outs} <= {"Wizard", "Sorcerer", "Warlock"}


def test_race_with_narrated_features_is_kept() -> None:
    text = SMALL.replace("and the dwarf spots them", "and the tiefling's horns catch the light").replace(
        "Mountain Dwarf", "Tiefling")
    scenario = parse(text)
    for seed in range(10):
        assert swap_characters(scenario, random.Random(seed)).system.party[0].race == "Tiefling"


def test_ambiguous_name_is_not_renamed() -> None:
    text = SMALL.replace("Lyra Moonwhisper", "Ash").replace("Lyra", "Ash").replace(
        "The bolt scorches", "The bolt leaves only ash on")
    scenario = parse(text)
    for seed in range(5):
        assert swap_characters(scenario, random.Random(seed)).system.party[1].name == "Ash"


def test_setting_swap_renames_world_and_places_everywhere(small: Scenario) -> None:
    out = swap_setting(small, random.Random(3))
    assert out.system.world != small.system.world and "(homebrew)" in (out.system.world or "")
    location = out.system.location or ""
    assert location.split(",")[0].endswith(" Trail") and "Triboar" not in location
    text = all_text(out)
    assert not contains_word(text, "Triboar") and not contains_word(text, "Phandalin")
    assert out.title.startswith("Goblin Ambush on the ") and out.title.endswith(" Trail")
    assert _errors(out) == []


def test_reroll_keeps_outcome_and_arithmetic() -> None:
    result = RollResult(skill="stealth", character="Pip", count=1, sides=20, modifier=3, faces=(9,), total=12,
                        target_kind="DC", target_value=13, outcome=Outcome.FAILURE)
    changed = 0
    for seed in range(200):
        new = reroll(result, random.Random(seed), free=False)
        assert len(new.faces) == 1 and 1 <= new.faces[0] <= 20
        assert new.total == sum(new.faces) + new.modifier
        assert new.outcome is Outcome.FAILURE and outcome_for(new.total, 13) is Outcome.FAILURE
        assert new.faces[0] not in (1, 20)
        changed += new != result
    assert changed > 150


def test_reroll_without_target_stays_in_band() -> None:
    result = RollResult(skill="perception", count=2, sides=6, modifier=-1, faces=(4, 5), total=8)
    for seed in range(100):
        new = reroll(result, random.Random(seed), free=True)
        assert new.total == sum(new.faces) - 1 and new.total // 5 == 8 // 5
        assert all(1 <= f <= 6 for f in new.faces)
    assert reroll(result, random.Random(0), free=False) == result


def test_dice_reroll_skips_what_the_narration_uses(small: Scenario) -> None:
    for seed in range(20):
        out = reroll_dice(small, random.Random(seed))
        for old, new in zip(small.turns, out.turns, strict=True):
            if old.role is not TurnRole.TOOLCALL:
                assert old == new
                continue
            for a, b in zip(old.results, new.results, strict=True):
                if a.skill == "initiative":
                    assert a == b  # "Lyra acts first" depends on the order
                assert b.outcome == a.outcome
            assert new.text.splitlines()[0].startswith("roll: ")
        assert _errors(out) == []


def test_rerolled_toolcall_text_matches_results(small: Scenario) -> None:
    out = reroll_dice(small, random.Random(1))
    reparsed = parse(render_scenario(out))
    assert [r.total for t in reparsed.turns for r in t.results] == [r.total for t in out.turns for r in t.results]


def test_dialogue_variation_never_touches_dm_turns(shipped: list[Scenario]) -> None:
    changed = 0
    for index, scenario in enumerate(shipped):
        out = vary_dialogue(scenario, random.Random(index))
        for old, new in zip(scenario.turns, out.turns, strict=True):
            if old.role is TurnRole.USER:
                changed += old.text != new.text
                assert new.text.strip()
            else:
                assert old == new
    assert changed > 20


@pytest.mark.parametrize(("before", "after"), [
    ("I search the chest.", {"I want to search the chest.", "I'd like to search the chest.",
                             "I try to search the chest.", "Let me search the chest.",
                             "Okay. I search the chest.", "Alright. I search the chest."}),
    ("Okay, I search the chest.", {"I search the chest."}),
    ("Hmm. We back out and go around.", {"We back out and go around."}),
    ("Let's back out and go around.", {"We back out and go around.", "Sure. Let's back out and go around."}),
])
def test_rephrase_templates(before: str, after: set[str]) -> None:
    seen = {rephrase(before, random.Random(seed)) for seed in range(60)}
    assert seen & after
    for text in seen - after:
        # Anything else must be small talk added in front of the original.
        assert text.endswith(before) and text != before


def test_rephrase_leaves_unsafe_sentences_alone() -> None:
    for seed in range(30):
        out = rephrase("I am not sure.", random.Random(seed))
        assert out.endswith("I am not sure.")


def test_wordswap_articles_case_and_hyphens() -> None:
    swap = WordSwap({"dwarf": "elf", "dwarves": "elves", "human": "half-orc"}, ignore_case=True)
    assert swap("A dwarf and a Dwarf; DWARVES! A half-dwarf? an human") == \
        "An elf and an Elf; ELVES! A half-dwarf? a half-orc"
    names = WordSwap({"Thorin": "Arin", "Thorin Ironfist": "Arin Ashdown", "Arin": "Quinn"})
    assert names("Thorin Ironfist met Arin; Thorin's axe") == "Arin Ashdown met Quinn; Arin's axe"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_augmented_shipped_scenarios_always_validate(shipped: list[Scenario], seed: int) -> None:
    for scenario in shipped:
        copies, report = augment_scenario(scenario, copies=1, seed=seed, options=ALL)
        assert report.invalid == 0, [str(p) for p in report.problems]
        for copy in copies:
            assert _errors(copy) == []
            # The copy also survives the trip through Markdown (what `scenarios` tools would write).
            reparsed = parse_scenario(render_scenario(copy), copy.path, copy.category)
            assert [str(d) for d in reparsed.diagnostics if d.is_error] == []


def test_one_option_at_a_time_changes_only_its_part(small: Scenario) -> None:
    only_dice = augment_once(small, random.Random(2), AugmentOptions(names=False, settings=False,
                                                                     dialogue=False))
    assert only_dice.system == small.system
    assert [t.text for t in only_dice.turns if t.role is not TurnRole.TOOLCALL] == \
        [t.text for t in small.turns if t.role is not TurnRole.TOOLCALL]
    nothing, report = augment_scenario(small, copies=2, seed=0, options=AugmentOptions(
        names=False, settings=False, dice=False, dialogue=False))
    assert nothing == [] and report.produced == 0
