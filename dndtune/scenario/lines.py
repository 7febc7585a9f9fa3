"""Parsers for the single-line constructs of a scenario: party members, roll markers, roll results.

Each returns a model or an error message (never raises), so the parser can collect every
problem of a file in one pass.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Literal

from dndtune.scenario.dice import read_dice
from dndtune.scenario.limits import (
    MAX_HP,
    MAX_LEVEL,
    MAX_MODIFIER,
    MAX_QUANTITY,
    MAX_TARGET,
    MAX_XP,
    MIN_LEVEL,
    clip,
    range_error,
    show_number,
    to_int,
)
from dndtune.scenario.models import Character, InventoryItem, Outcome, RollRequest, RollResult
from dndtune.scenario.skills import normalize_skill

CURRENCIES = frozenset({"cp", "sp", "ep", "gp", "pp"})

# Every pattern here runs on text a user typed, so each must be linear in its length: quantifiers
# that never need to give characters back are possessive (``*+``, ``++``), and nothing is lazy
# before a ``\s*`` (a lazy group followed by ``\s*`` rescans a run of spaces once per character).
HP_RE = re.compile(r"^hp\s*+:?\s*+(-?\d++)\s*+/\s*+(\d++)$", re.IGNORECASE)
XP_RE = re.compile(r"^xp\s*+:?\s*+(\d++)$", re.IGNORECASE)
LEVEL_RE = re.compile(r"^(?:level|lvl)\s*+:?\s*+(\d++)$", re.IGNORECASE)
INVENTORY_RE = re.compile(r"^(?:inventory|items|gear)\s*+:\s*+(.*)$", re.IGNORECASE)
# Searched from index 1 (a name comes first): ``rope x2``, ``rope ×2``.
QTY_SUFFIX_RE = re.compile(r"[x×]\s*+(?P<qty>\d++)$", re.IGNORECASE)
QTY_PREFIX_RE = re.compile(r"^(?P<qty>\d++)\s*[x×]?\s+(?P<name>.+)$", re.IGNORECASE)

# A marker as written: [roll: skill] or [roll: skill (Character)]. Groups keep surrounding spaces
# (callers strip them); no part may hold a bracket, so a scan stops at the next '[' or ']'.
MARKER_RE = re.compile(r"\[\s*+roll\s*+:(?P<skill>[^\[\]()]*+)(?:\((?P<char>[^\[\]()]*+)\))?\s*+\]",
                       re.IGNORECASE)
# Anything that looks like an attempt at a marker, to catch malformed ones.
MARKER_LIKE_RE = re.compile(r"\[\s*+roll\b[^\]]*+\]?", re.IGNORECASE)

RESULT_RE = re.compile(
    r"^\s*+roll\s*+:(?P<skill>[^=()]++)(?:\((?P<char>[^()]*+)\))?\s*+=(?P<rest>.+)$",
    re.IGNORECASE,
)
# The lookbehind stands for the old leading ``\s+``: searched, a ``\s+`` is retried from every
# space of a long run, which is quadratic.
TARGET_RE = re.compile(
    r"(?<=\s)vs\.?\s++(?P<kind>DC|AC)\s*+(?P<value>\d++)\s*+(?:[:,;]|->|=>|→|—|-)?\s*+(?P<outcome>[A-Za-z]++)?"
    r"\s*+[.!]?\s*+$",
    re.IGNORECASE,
)
OUTCOME_TAIL_RE = re.compile(r"(?:[:,;]|->|=>|→)\s*+([A-Za-z]++)\s*+$")
OUTCOME_WORDS = {
    "success": Outcome.SUCCESS, "succeeds": Outcome.SUCCESS, "pass": Outcome.SUCCESS,
    "passes": Outcome.SUCCESS, "hit": Outcome.SUCCESS, "hits": Outcome.SUCCESS,
    "failure": Outcome.FAILURE, "fails": Outcome.FAILURE, "fail": Outcome.FAILURE,
    "miss": Outcome.FAILURE, "misses": Outcome.FAILURE,
}
CHAIN_RE = re.compile(r"\d+(?:[+-]\d+)*")
CHAIN_TERM_RE = re.compile(r"([+-]?)(\d+)")
PUNCT_GAP_RE = re.compile(r"(?<![ \t])[ \t]++(?=[.,;:!?])")
"""Spaces before punctuation; the lookbehind makes a long run cost its length once, not squared."""


def parse_inventory(text: str, errors: list[str] | None = None, owner: str = "") -> tuple[InventoryItem, ...]:
    """``rope x2, 3 gp, lantern``. A count too long to convert is reported in ``errors`` and its item left out."""
    items: list[InventoryItem] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        suffix = QTY_SUFFIX_RE.search(part, 1)
        prefix = QTY_PREFIX_RE.match(part)
        if suffix:
            name, digits = part[: suffix.start()].strip(), suffix.group("qty")
        elif prefix:
            name, digits = prefix.group("name").strip(), prefix.group("qty")
        else:
            items.append(InventoryItem(name=part))
            continue
        quantity = to_int(digits)
        if quantity is None:
            if errors is not None:
                errors.append(range_error(f"{owner}: quantity of '{clip(name)}'", digits, 1, MAX_QUANTITY) or "")
            continue
        items.append(InventoryItem(name=name, quantity=quantity))
    return tuple(items)


def _bounded(digits: str, what: str, low: int, high: int, errors: list[str]) -> int | None:
    """``digits`` as an int. A number too long for any range is reported here, never converted;
    the validator checks the range of the rest (so augmented scenarios meet the same limits)."""
    value = to_int(digits)
    if value is None:
        errors.append(range_error(what, digits, low, high) or "")
    return value


def format_inventory(items: tuple[InventoryItem, ...]) -> str:
    parts = []
    for item in items:
        if item.quantity == 1:
            parts.append(item.name)
        elif item.name.lower() in CURRENCIES:
            parts.append(f"{item.quantity} {item.name}")
        else:
            parts.append(f"{item.name} x{item.quantity}")
    return ", ".join(parts)


def parse_character(text: str, line: int) -> tuple[Character | None, list[str]]:
    """``Thorin Ironfist | Dwarf Fighter 3 | HP 28/31 | XP 900 | Inventory: axe, potion x2``."""
    fields = [f.strip() for f in text.split("|")]
    name = fields[0]
    if not name:
        return None, ["party member has no name (write '- Name | Race Class Level | HP 10/10 | ...')"]
    errors: list[str] = []
    values: dict[str, object] = {"name": name, "line": line}
    for field_text in fields[1:]:
        if not field_text:
            continue
        if m := HP_RE.match(field_text):
            values["hp_current"] = _bounded(m.group(1), f"{name}: HP", 0, MAX_HP, errors)
            values["hp_max"] = _bounded(m.group(2), f"{name}: maximum HP", 1, MAX_HP, errors)
        elif field_text.lower().startswith("hp"):
            errors.append(f"{name}: HP must look like 'HP 28/31', got '{clip(field_text)}'")
        elif m := XP_RE.match(field_text):
            values["xp"] = _bounded(m.group(1), f"{name}: XP", 0, MAX_XP, errors)
        elif field_text.lower().startswith("xp"):
            errors.append(f"{name}: XP must look like 'XP 900', got '{clip(field_text)}'")
        elif m := LEVEL_RE.match(field_text):
            values["level"] = _bounded(m.group(1), f"{name}: level", MIN_LEVEL, MAX_LEVEL, errors)
        elif m := INVENTORY_RE.match(field_text):
            values["inventory"] = parse_inventory(m.group(1), errors, name)
        else:
            words = field_text.split()
            if words and words[-1].isdecimal():
                values["level"] = _bounded(words.pop(), f"{name}: level", MIN_LEVEL, MAX_LEVEL, errors)
            if words:
                values["char_class"] = words.pop()
            if words:
                values["race"] = " ".join(words)
    return Character.model_validate(values), errors


def format_character(c: Character) -> str:
    fields = [c.name]
    descr = " ".join(str(p) for p in (c.race, c.char_class, c.level) if p is not None)
    if descr:
        fields.append(descr)
    if c.hp_current is not None and c.hp_max is not None:
        fields.append(f"HP {c.hp_current}/{c.hp_max}")
    if c.xp is not None:
        fields.append(f"XP {c.xp}")
    if c.inventory:
        fields.append(f"Inventory: {format_inventory(c.inventory)}")
    return " | ".join(fields)


def clean_skill(raw: str) -> str:
    """Canonical skill when known; otherwise the text as written (lower case) for the validator to flag."""
    return normalize_skill(raw) or re.sub(r"\s+", " ", raw.strip().lower())


def find_markers(text: str, first_line: int) -> tuple[list[RollRequest], list[tuple[int, str]]]:
    """Roll markers in a DM body, with their lines; plus (line, message) for malformed ones."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_of(offset: int) -> int:
        # A binary search over the newline offsets: counting from the start per marker was quadratic.
        return first_line + bisect_right(newlines, offset - 1)

    requests: list[RollRequest] = []
    errors: list[tuple[int, str]] = []
    good_starts: set[int] = set()
    for m in MARKER_RE.finditer(text):
        line = line_of(m.start())
        good_starts.add(m.start())
        skill = m.group("skill").strip()
        if not skill:
            errors.append((line, f"roll marker '{clip(m.group(0))}' names no skill (write '[roll: perception]')"))
            continue
        char = (m.group("char") or "").strip() or None
        requests.append(RollRequest(skill=clean_skill(skill), character=char, line=line, raw=m.group(0)))
    for m in MARKER_LIKE_RE.finditer(text):
        # A good marker holds no bracket, so a malformed-looking match that starts where a good one
        # does is that marker; one that starts anywhere else is an error.
        if m.start() in good_starts:
            continue
        errors.append((line_of(m.start()), f"malformed roll marker '{clip(m.group(0))}' (write '[roll: skill]' or "
                                           "'[roll: skill (Character)]')"))
    return requests, errors


def strip_markers(text: str) -> str:
    """DM narration without its roll markers, whitespace tidied (what the model says besides the call)."""
    cleaned = MARKER_RE.sub("", text)
    cleaned = PUNCT_GAP_RE.sub("", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return "\n".join(line.rstrip() for line in cleaned.strip().split("\n"))


def parse_result_line(text: str, line: int) -> tuple[RollResult | None, str | None]:
    """One TOOLCALL line -> RollResult, or an error message naming what to write instead."""
    m = RESULT_RE.match(text)
    if not m:
        return None, (f"cannot read roll result '{clip(text)}' (write 'roll: skill (Character) = 1d20+3 = "
                      "14+3 = 17', optionally followed by ' vs DC 15: success')")
    rest = m.group("rest").strip()
    target_kind: Literal["DC", "AC"] | None = None
    target_value: int | None = None
    outcome: Outcome | None = None
    if t := TARGET_RE.search(rest):
        target_kind = "DC" if t.group("kind").upper() == "DC" else "AC"
        target_value = to_int(t.group("value"))
        if target_value is None:
            return None, range_error(target_kind, t.group("value"), 1, MAX_TARGET)
        word = t.group("outcome")
        if word:
            if word.lower() not in OUTCOME_WORDS:
                return None, f"unknown outcome '{clip(word)}' (write success/failure, or hit/miss against an AC)"
            outcome = OUTCOME_WORDS[word.lower()]
        rest = rest[: t.start()]
    else:
        tail = OUTCOME_TAIL_RE.search(rest)
        if tail and tail.group(1).lower() in OUTCOME_WORDS:
            return None, f"outcome '{tail.group(1)}' needs a target: write 'vs DC 15: {tail.group(1)}'"
    chain = [seg.strip() for seg in rest.split("=")]
    dice, dice_problem = read_dice(chain[0])
    if dice is None:
        return None, dice_problem
    if len(chain) < 2 or not chain[-1]:
        return None, f"roll result has no total (write '{dice} = <faces> = <total>')"
    if not re.fullmatch(r"-?\d+", chain[-1]):
        return None, f"the last value of a roll result must be the total, got '{clip(chain[-1])}'"
    total = to_int(chain[-1])
    if total is None:
        return None, f"total {show_number(chain[-1])} is impossible for {dice} (range {dice.minimum}-{dice.maximum})"
    faces: tuple[int, ...] = ()
    if len(chain) == 3:
        compact = chain[1].replace(" ", "")
        if not CHAIN_RE.fullmatch(compact):
            return None, f"cannot read dice faces '{clip(chain[1])}' (write them like '4+5+3')"
        terms = CHAIN_TERM_RE.findall(compact)
        if len(terms) < dice.count:
            return None, f"{dice} rolls {dice.count} dice but '{clip(chain[1])}' shows {len(terms)} value(s)"
        face_terms, mod_terms = terms[: dice.count], terms[dice.count :]
        if any(sign == "-" for sign, _ in face_terms[1:]):
            return None, f"dice faces are added, not subtracted: '{clip(chain[1])}'"
        for _, n in terms:
            if to_int(n) is None:  # never convert a 5000-digit number (Python refuses to)
                return None, (f"number {show_number(n)} in '{clip(chain[1])}' is out of range (faces are "
                              f"1-{dice.sides}, a modifier -{MAX_MODIFIER} to +{MAX_MODIFIER})")
        faces = tuple(int(n) for _, n in face_terms)
        written_mod = sum(int(n) * (-1 if sign == "-" else 1) for sign, n in mod_terms)
        if written_mod != dice.modifier:
            if len(mod_terms) > 1 or (len(mod_terms) == 1) == bool(dice.modifier):
                return None, (f"modifier {written_mod:+d} in '{clip(chain[1])}' does not match the "
                              f"{dice.modifier:+d} of {dice}")
            shape = "+".join(["<face>"] * dice.count) + (f"{dice.modifier:+d}" if dice.modifier else "")
            return None, f"'{clip(chain[1])}' should be {dice.count} die face(s) then the modifier: write '{shape}'"
    elif len(chain) > 3:
        return None, f"too many '=' in roll result (write '{dice} = <faces> = <total>')"
    result = RollResult(
        skill=clean_skill(m.group("skill")),
        character=(m.group("char") or "").strip() or None,
        count=dice.count,
        sides=dice.sides,
        modifier=dice.modifier,
        faces=faces,
        total=total,
        target_kind=target_kind,
        target_value=target_value,
        outcome=outcome,
        line=line,
    )
    return result, None


def format_result(r: RollResult) -> str:
    who = f" ({r.character})" if r.character else ""
    text = f"roll: {r.skill}{who} = {r.expression}"
    if r.faces:
        chain = "+".join(str(f) for f in r.faces)
        if r.modifier:
            chain += f"{r.modifier:+d}"
        text += f" = {chain}"
    text += f" = {r.total}"
    if r.target_kind and r.target_value is not None:
        text += f" vs {r.target_kind} {r.target_value}"
        if r.outcome is not None:
            word = r.outcome.value
            if r.target_kind == "AC":
                word = "hit" if r.outcome is Outcome.SUCCESS else "miss"
            text += f": {word}"
    return text
