"""Character swaps: new names, races and classes for the party, wherever the scenario uses them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dndtune.dataset import pools
from dndtune.dataset.augment.text import all_text, map_text, unused
from dndtune.dataset.wordswap import WordSwap, contains_word
from dndtune.scenario.models import Character, Scenario
from dndtune.scenario.skills import SKILLS


@dataclass(frozen=True)
class _NameParts:
    title: list[str]
    core: list[str]


def _name_parts(name: str) -> _NameParts:
    words = name.split()
    title: list[str] = []
    while len(words) > 1 and words[0] in pools.TITLES:
        title.append(words.pop(0))
    return _NameParts(title, words)


def _renamable(parts: _NameParts, text: str, scenario: Scenario, others: list[_NameParts]) -> bool:
    """A name is renamed only when every word of it surely means the character.

    Not when a word also appears in lower case (``Ash`` next to "ash"), is a skill, names part of
    the setting, or is shared with another party member: a rename there would change other meaning.
    """
    setting = " ".join(x for x in (scenario.system.world, scenario.system.location) if x)
    for word in parts.core:
        if word.lower() in SKILLS or contains_word(text, word.lower()) or contains_word(setting, word):
            return False
        if any(word in other.core for other in others):
            return False
    return bool(parts.core)


def _name_mapping(scenario: Scenario, rng: random.Random) -> dict[str, str]:
    text = all_text(scenario)
    party = [_name_parts(c.name) for c in scenario.system.party]
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for index, parts in enumerate(party):
        others = party[:index] + party[index + 1:]
        if not _renamable(parts, text, scenario, others):
            continue
        given_pool = unused(pools.GIVEN_NAMES, text, taken)
        surname_pool = unused(pools.SURNAMES, text, taken)
        if not given_pool or (len(parts.core) > 1 and not surname_pool):
            continue
        given = rng.choice(given_pool)
        taken.add(given)
        mapping[parts.core[0]] = given
        if len(parts.core) > 1:
            surname = rng.choice(surname_pool)
            taken.add(surname)
            mapping[" ".join(parts.core)] = f"{given} {surname}"
            mapping[parts.core[-1]] = surname
    return mapping


def _base_race(race: str | None) -> str | None:
    if not race:
        return None
    last = race.split()[-1].lower()
    return last if last in pools.RACE_FORMS else None


def _race_mapping(scenario: Scenario, rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
    """(words in text -> new words, old base race -> new base race), one new race per old one."""
    present = {b for c in scenario.system.party if (b := _base_race(c.race))}
    choices = [r for r in pools.SWAP_RACES if r not in present]
    text = all_text(scenario).lower()
    words: dict[str, str] = {}
    races: dict[str, str] = {}
    for old in sorted(present):
        if any(contains_word(text, f) for f in pools.RACE_FEATURES.get(old, ())):
            continue
        if not choices:
            break
        new = rng.choice(choices)
        choices.remove(new)
        races[old] = new
        for old_form, new_form in zip(pools.RACE_FORMS[old], pools.RACE_FORMS[new], strict=True):
            words.setdefault(old_form, new_form)  # "human" is noun and adjective: first form wins.
        for variant, (race, form) in pools.RACE_VARIANTS.items():
            if race == old:
                words.setdefault(variant, pools.RACE_FORMS[new][form])
    return words, races


def _class_mapping(scenario: Scenario, rng: random.Random) -> dict[str, str]:
    """old class -> new class (lower case) for classes whose scenario shows no signature feature."""
    text = all_text(scenario).lower()
    present = {c.char_class.lower() for c in scenario.system.party if c.char_class}
    mapping: dict[str, str] = {}
    for old in sorted(present):
        group = next((g for g in pools.CLASS_GROUPS if old in g), None)
        if group is None or any(contains_word(text, f) for f in pools.CLASS_FEATURES.get(old, ())):
            continue
        choices = [c for c in group if c not in present and c not in mapping.values()]
        if choices:
            mapping[old] = rng.choice(choices)
    return mapping


def swap_characters(scenario: Scenario, rng: random.Random) -> Scenario:
    """New names, races and classes for the party, rewritten through every turn, marker and result."""
    names = _name_mapping(scenario, rng)
    race_words, races = _race_mapping(scenario, rng)
    classes = _class_mapping(scenario, rng)
    class_words = dict(classes)
    class_words.update({f"{old}s": f"{new}s" for old, new in classes.items()})
    rename = WordSwap(names)
    reword = WordSwap({**race_words, **class_words}, ignore_case=True)

    def fn(text: str) -> str:
        return reword(rename(text))

    def member(c: Character) -> Character:
        update: dict[str, object] = {}
        base = _base_race(c.race)
        if base in races:
            update["race"] = pools.RACE_FORMS[races[base]][0].title()
        if c.char_class and c.char_class.lower() in classes:
            update["char_class"] = classes[c.char_class.lower()].title()
        return c.model_copy(update=update) if update else c

    return map_text(scenario, fn, party=member)
