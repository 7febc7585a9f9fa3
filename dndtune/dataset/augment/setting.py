"""Setting swaps: an invented world and new names for the places of the Location line."""

from __future__ import annotations

import random
import re

from dndtune.dataset import pools
from dndtune.dataset.augment.text import all_text, map_text, unused
from dndtune.dataset.wordswap import WordSwap, contains_word
from dndtune.scenario.models import Scenario

_WORLD_CORE_RE = re.compile(r"^(?:the\s+)?(?P<core>.+?)\s*(?:\([^)]*\))?\s*$", re.IGNORECASE)
_WORD_RE = re.compile(r"[\w'’-]+")


def _world_core(world: str) -> str:
    """``The Sundered Isles (homebrew)`` -> ``Sundered Isles``: the part the narration would use."""
    m = _WORLD_CORE_RE.match(world)
    return m.group("core") if m else world


_POSSESSIVE_RE = re.compile(r"['’]s$")


def _place_phrases(location: str) -> list[str]:
    """Proper names of places in a Location line: ``Triboar`` of "Triboar Trail, ... east of Phandalin".

    A run of capitalised words counts as a place when it follows a preposition ("in Sharn",
    "of the Gutted Eel") or holds a kind-of-place word ("Cannith Tower"). Of the run, only the
    words that are not themselves generic ("Tower", "Lower", "Grey") are renamed.
    """
    words = list(_WORD_RE.finditer(location))
    runs: list[tuple[int, list[str]]] = []  # (index of the run's first word, its words)
    for index, m in enumerate(words):
        if not m.group(0)[:1].isupper():
            continue
        previous = words[index - 1] if index > 0 else None
        continues = (
            previous is not None and bool(runs) and runs[-1][0] + len(runs[-1][1]) == index
            and location[previous.end():m.start()] == " " and not _POSSESSIVE_RE.search(previous.group(0))
        )
        if continues:
            runs[-1][1].append(m.group(0))
        else:
            runs.append((index, [m.group(0)]))
    phrases: list[str] = []
    for first, run in runs:
        stems = [_POSSESSIVE_RE.sub("", w) for w in run]
        before = [m.group(0).lower() for m in words[max(0, first - 2):first]]
        if before[-1:] == ["the"]:
            before = before[:-1]
        after_preposition = bool(before) and before[-1] in pools.PLACE_PREPOSITIONS
        if not (after_preposition or any(w in pools.PLACE_KINDS for w in stems)):
            continue
        phrases.extend(_proper_parts(stems))
    return phrases


def _proper_parts(stems: list[str]) -> list[str]:
    """The runs of non-generic words of a place name (``Middle Menthis`` -> ``Menthis``)."""
    parts: list[str] = []
    current: list[str] = []
    for stem in [*stems, ""]:
        if stem and stem not in pools.PLACE_WORDS and stem.replace("-", "").isalpha() and len(stem) >= 3:
            current.append(stem)
        elif current:
            parts.append(" ".join(current))
            current = []
    return parts


def swap_setting(scenario: Scenario, rng: random.Random) -> Scenario:
    """A different (invented) world and new names for the places of the Location, everywhere."""
    system = scenario.system
    text = all_text(scenario)
    party_words = {w for c in system.party for w in c.name.split()}
    mapping: dict[str, str] = {}
    new_world: str | None = None
    if system.world:
        worlds = [w for w in pools.WORLDS if w != system.world
                  and not contains_word(text, _world_core(w), ignore_case=True)]
        if worlds:
            new_world = rng.choice(worlds)
            mapping[_world_core(system.world)] = _world_core(new_world)
    if system.location:
        taken: set[str] = set()
        for phrase in _place_phrases(system.location):
            words = phrase.split()
            if phrase in mapping or any(w in party_words or contains_word(text, w.lower()) for w in words):
                continue
            places = unused(pools.PLACE_NAMES, text, taken)
            if not places:
                break
            mapping[phrase] = rng.choice(places)
            taken.add(mapping[phrase])
    swapped = map_text(scenario, WordSwap(mapping))
    if new_world is not None:
        swapped = swapped.model_copy(update={"system": swapped.system.model_copy(update={"world": new_world})})
    return swapped
