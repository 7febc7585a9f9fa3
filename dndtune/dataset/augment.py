"""Seeded augmentation of scenarios: character, setting, dice and player-phrasing variations.

Every function takes the ``random.Random`` to draw from; the same seed always gives the same
copies, whatever else is in the corpus (each copy's generator is seeded from the scenario's own
key). Each copy is checked with the validator and dropped when it would not pass.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dndtune.dataset import pools
from dndtune.dataset.wordswap import WordSwap, contains_word, words_of
from dndtune.scenario.diagnostics import Diagnostic
from dndtune.scenario.dice import outcome_for, roll_dice
from dndtune.scenario.lines import format_result
from dndtune.scenario.models import (
    Character,
    InventoryItem,
    RollResult,
    Scenario,
    SystemContext,
    Turn,
    TurnRole,
)
from dndtune.scenario.skills import SKILLS
from dndtune.scenario.validator import check_scenario

TextMap = Callable[[str], str]

# Rolls whose numbers the narration uses directly (damage totals, who acts first): never re-rolled.
NEVER_REROLL = frozenset({"damage", "initiative", "death save"})
REROLL_ATTEMPTS = 12
DIALOGUE_RATE = 0.6
"""Share of player turns that get a phrasing variation in one copy."""


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


# --- rewriting every text of a scenario -------------------------------------------------------


def map_text(scenario: Scenario, fn: TextMap, *, party: Callable[[Character], Character] | None = None
             ) -> Scenario:
    """``scenario`` with ``fn`` applied to every free text (never to skills or numbers).

    ``party`` rewrites each party member after ``fn`` ran on its name and inventory (for fields
    that are set rather than rewritten, like a new race).
    """
    system = scenario.system

    def character(c: Character) -> Character:
        updated = c.model_copy(update={
            "name": fn(c.name),
            "inventory": tuple(InventoryItem(name=fn(i.name), quantity=i.quantity) for i in c.inventory),
        })
        return party(updated) if party is not None else updated

    new_system = SystemContext(
        role=_opt(fn, system.role), world=_opt(fn, system.world), location=_opt(fn, system.location),
        party=tuple(character(c) for c in system.party), notes=tuple(fn(n) for n in system.notes),
        line=system.line,
    )
    turns = tuple(
        t.model_copy(update={
            "text": fn(t.text),
            "rolls": tuple(r.model_copy(update={"character": _opt(fn, r.character), "raw": fn(r.raw)})
                           for r in t.rolls),
            "results": tuple(r.model_copy(update={"character": _opt(fn, r.character)}) for r in t.results),
        })
        for t in scenario.turns
    )
    return scenario.model_copy(update={"title": fn(scenario.title), "system": new_system, "turns": turns})


def _opt(fn: TextMap, value: str | None) -> str | None:
    return fn(value) if value is not None else None


def all_text(scenario: Scenario) -> str:
    """Every free text of the scenario, one per line (for collision and ambiguity checks)."""
    system = scenario.system
    parts = [scenario.title, system.role or "", system.world or "", system.location or "", *system.notes]
    for c in system.party:
        parts += [c.name, c.race or "", c.char_class or "", *(i.name for i in c.inventory)]
    for t in scenario.turns:
        parts.append(t.text)
        parts += [r.character or "" for r in t.results]
    return "\n".join(parts)


def _unused(pool: Iterable[str], text: str, taken: set[str]) -> list[str]:
    """Pool entries that appear nowhere in ``text`` (any case) and are not already chosen."""
    present = words_of(text)
    return [p for p in pool if p not in taken and not any(w in present for w in words_of(p))]


# --- characters: names, races, classes --------------------------------------------------------


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
        given_pool = _unused(pools.GIVEN_NAMES, text, taken)
        surname_pool = _unused(pools.SURNAMES, text, taken)
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


# --- setting: world and place names -----------------------------------------------------------

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
            places = _unused(pools.PLACE_NAMES, text, taken)
            if not places:
                break
            mapping[phrase] = rng.choice(places)
            taken.add(mapping[phrase])
    swapped = map_text(scenario, WordSwap(mapping))
    if new_world is not None:
        swapped = swapped.model_copy(update={"system": swapped.system.model_copy(update={"world": new_world})})
    return swapped


# --- dice -------------------------------------------------------------------------------------


def _mentioned_numbers(turns: Iterable[Turn]) -> set[int]:
    return {int(n) for t in turns if t.role is not TurnRole.TOOLCALL for n in re.findall(r"(?<![\w.])\d+", t.text)}


def _band(total: int) -> int:
    # Totals within the same 5-point band read alike when no DC or AC says what they mean.
    return total // 5


def _is_crit(result: RollResult, faces: Iterable[int]) -> bool:
    return result.sides == 20 and any(f in (1, 20) for f in faces)


def reroll(result: RollResult, rng: random.Random, *, free: bool) -> RollResult:
    """New faces and total for one result, keeping what the narration after it depends on.

    With a DC or AC the outcome must stay the same; without one (``free``) the total must stay in
    its 5-point band. Natural 1s and 20s on a d20 are never made or unmade. Returns ``result``
    itself when no draw within a few attempts qualifies.
    """
    for _ in range(REROLL_ATTEMPTS):
        faces = tuple(roll_dice(result.count, result.sides, rng))
        total = sum(faces) + result.modifier
        if faces == result.faces or _is_crit(result, faces):
            continue
        if result.target_value is not None:
            expected = outcome_for(result.total, result.target_value)
            if outcome_for(total, result.target_value) is not expected:
                continue
            outcome = outcome_for(total, result.target_value) if result.outcome is not None else None
            return result.model_copy(update={"faces": faces, "total": total, "outcome": outcome})
        if free and _band(total) == _band(result.total):
            return result.model_copy(update={"faces": faces, "total": total})
    return result


def reroll_dice(scenario: Scenario, rng: random.Random) -> Scenario:
    """Re-roll the dice of TOOLCALL results where the DM's narration cannot tell the difference.

    Skipped: damage, initiative and death saves (the narration uses their numbers), results that
    gave no faces, natural 1s/20s, totals the later turns mention as a number, and - without a
    DC/AC - rolls that share their TOOLCALL with another untargeted roll (they may be compared).
    """
    turns = list(scenario.turns)
    for index, turn in enumerate(turns):
        if turn.role is not TurnRole.TOOLCALL or not turn.results:
            continue
        mentioned = _mentioned_numbers(turns[index + 1:])
        untargeted = sum(1 for r in turn.results if r.target_value is None)
        results = []
        for r in turn.results:
            # A lone d20 face can be quoted too ("a natural 17"), not only the total.
            quoted = r.total in mentioned or (len(r.faces) == 1 and r.faces[0] in mentioned)
            eligible = r.skill not in NEVER_REROLL and bool(r.faces) and not _is_crit(r, r.faces) and not quoted
            results.append(reroll(r, rng, free=untargeted == 1) if eligible else r)
        if tuple(results) != turn.results:
            turns[index] = turn.model_copy(update={
                "results": tuple(results), "text": "\n".join(format_result(r) for r in results)})
    return scenario.model_copy(update={"turns": tuple(turns)})


# --- dialogue: player phrasing ----------------------------------------------------------------

_SENTENCE_RE = re.compile(r"^(?P<first>[^.!?]*[.!?]+)\s+(?P<rest>\S.*)$", re.DOTALL)
_INTERJECTION_RE = re.compile(
    r"^(?P<word>ok(?:ay)?|alright|all right|hmm+|right|sure|cool|nice|great|ha(?:ha)*|phew|oh no|yes|yeah|"
    r"got it|sounds good)(?:,\s*(?:ok(?:ay)?|then))?\s*(?P<sep>[.!,]+)\s+(?P<rest>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_OPENED_RE = re.compile(r"^(?P<opener>I want to|I'd like to|I try to|Let me|We want to|We'd like to|We try to|"
                        r"Let's)\s+(?P<word>[a-z]+)\b", re.DOTALL)
_PLAIN_RE = re.compile(r"^(?P<subject>I|We)\s+(?P<word>[a-z]+)\b", re.DOTALL)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _add_opener(text: str, rng: random.Random) -> str | None:
    m = _PLAIN_RE.match(text)
    if not m or m.group("word") in pools.NOT_ACTIONS or m.group("word").endswith("ed"):
        return None
    openers = pools.I_OPENERS if m.group("subject") == "I" else pools.WE_OPENERS
    return rng.choice(openers) + text[len(m.group("subject")):]


def _drop_opener(text: str, rng: random.Random) -> str | None:
    m = _OPENED_RE.match(text)
    if not m or m.group("word") in pools.NOT_ACTIONS or m.group("word") == "see":
        return None
    opener = m.group("opener")
    subject = "I" if opener.startswith(("I ", "I'", "Let me")) else "We"
    return subject + text[len(opener):]


def _drop_small_talk(text: str, rng: random.Random) -> str | None:
    m = _INTERJECTION_RE.match(text)
    if m:
        return _upper_first(m.group("rest")) if "," in m.group("sep") else m.group("rest")
    s = _SENTENCE_RE.match(text)
    if s and s.group("first").strip() in pools.SMALL_TALK:
        return s.group("rest")
    return None


def _add_small_talk(text: str, rng: random.Random) -> str | None:
    if _INTERJECTION_RE.match(text) or _drop_small_talk(text, rng) is not None:
        return None
    return f"{rng.choice(pools.SMALL_TALK)} {text}"


_DIALOGUE_VARIANTS = (_add_opener, _drop_opener, _drop_small_talk, _add_small_talk)


def rephrase(text: str, rng: random.Random) -> str:
    """One phrasing variation of a player turn (picked among those that apply), or ``text`` itself."""
    stripped = text.strip()
    candidates = [v(stripped, rng) for v in _DIALOGUE_VARIANTS]
    options = [c for c in candidates if c]
    return rng.choice(options) if options else text


def vary_dialogue(scenario: Scenario, rng: random.Random) -> Scenario:
    """Rephrase some User turns; DM and TOOLCALL turns are never touched."""
    turns = []
    for turn in scenario.turns:
        if turn.role is TurnRole.USER and rng.random() < DIALOGUE_RATE:
            turn = turn.model_copy(update={"text": rephrase(turn.text, rng)})
        turns.append(turn)
    return scenario.model_copy(update={"turns": tuple(turns)})
