"""Parsers for the single-line constructs of a scenario: party members, roll markers, roll results.

Each returns a model or an error message (never raises), so the parser can collect every
problem of a file in one pass.
"""

from __future__ import annotations

import re
from typing import Literal

from dndtune.scenario.dice import parse_dice
from dndtune.scenario.models import Character, InventoryItem, Outcome, RollRequest, RollResult
from dndtune.scenario.skills import normalize_skill

CURRENCIES = frozenset({"cp", "sp", "ep", "gp", "pp"})

HP_RE = re.compile(r"^hp\s*:?\s*(-?\d+)\s*/\s*(\d+)$", re.IGNORECASE)
XP_RE = re.compile(r"^xp\s*:?\s*(\d+)$", re.IGNORECASE)
LEVEL_RE = re.compile(r"^(?:level|lvl)\s*:?\s*(\d+)$", re.IGNORECASE)
INVENTORY_RE = re.compile(r"^(?:inventory|items|gear)\s*:\s*(.*)$", re.IGNORECASE)
QTY_SUFFIX_RE = re.compile(r"^(?P<name>.+?)\s*[x×]\s*(?P<qty>\d+)$", re.IGNORECASE)
QTY_PREFIX_RE = re.compile(r"^(?P<qty>\d+)\s*[x×]?\s+(?P<name>.+)$", re.IGNORECASE)

# A marker as written: [roll: skill] or [roll: skill (Character)].
MARKER_RE = re.compile(r"\[\s*roll\s*:\s*(?P<skill>[^\]()]*?)\s*(?:\(\s*(?P<char>[^()\]]*?)\s*\))?\s*\]",
                       re.IGNORECASE)
# Anything that looks like an attempt at a marker, to catch malformed ones.
MARKER_LIKE_RE = re.compile(r"\[\s*roll\b[^\]]*\]?", re.IGNORECASE)

RESULT_RE = re.compile(
    r"^\s*roll\s*:\s*(?P<skill>[^=()]+?)\s*(?:\(\s*(?P<char>[^()]*?)\s*\))?\s*=\s*(?P<rest>.+?)\s*$",
    re.IGNORECASE,
)
TARGET_RE = re.compile(
    r"\s+vs\.?\s+(?P<kind>DC|AC)\s*(?P<value>\d+)\s*(?:[:,;]|->|=>|→|—|-)?\s*(?P<outcome>[A-Za-z]+)?\s*[.!]?\s*$",
    re.IGNORECASE,
)
OUTCOME_WORDS = {
    "success": Outcome.SUCCESS, "succeeds": Outcome.SUCCESS, "pass": Outcome.SUCCESS,
    "passes": Outcome.SUCCESS, "hit": Outcome.SUCCESS, "hits": Outcome.SUCCESS,
    "failure": Outcome.FAILURE, "fails": Outcome.FAILURE, "fail": Outcome.FAILURE,
    "miss": Outcome.FAILURE, "misses": Outcome.FAILURE,
}
CHAIN_RE = re.compile(r"\d+(?:[+-]\d+)*")
CHAIN_TERM_RE = re.compile(r"([+-]?)(\d+)")


def parse_inventory(text: str) -> tuple[InventoryItem, ...]:
    items: list[InventoryItem] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        suffix = QTY_SUFFIX_RE.match(part)
        prefix = QTY_PREFIX_RE.match(part)
        if suffix:
            items.append(InventoryItem(name=suffix.group("name").strip(), quantity=int(suffix.group("qty"))))
        elif prefix:
            items.append(InventoryItem(name=prefix.group("name").strip(), quantity=int(prefix.group("qty"))))
        else:
            items.append(InventoryItem(name=part))
    return tuple(items)


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
            values["hp_current"], values["hp_max"] = int(m.group(1)), int(m.group(2))
        elif field_text.lower().startswith("hp"):
            errors.append(f"{name}: HP must look like 'HP 28/31', got '{field_text}'")
        elif m := XP_RE.match(field_text):
            values["xp"] = int(m.group(1))
        elif field_text.lower().startswith("xp"):
            errors.append(f"{name}: XP must look like 'XP 900', got '{field_text}'")
        elif m := LEVEL_RE.match(field_text):
            values["level"] = int(m.group(1))
        elif m := INVENTORY_RE.match(field_text):
            values["inventory"] = parse_inventory(m.group(1))
        else:
            words = field_text.split()
            if words and words[-1].isdigit():
                values["level"] = int(words.pop())
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
    requests: list[RollRequest] = []
    errors: list[tuple[int, str]] = []
    good_spans: list[tuple[int, int]] = []
    for m in MARKER_RE.finditer(text):
        line = first_line + text.count("\n", 0, m.start())
        good_spans.append(m.span())
        if not m.group("skill"):
            errors.append((line, f"roll marker '{m.group(0)}' names no skill (write '[roll: perception]')"))
            continue
        char = m.group("char") or None
        requests.append(RollRequest(skill=clean_skill(m.group("skill")), character=char, line=line, raw=m.group(0)))
    for m in MARKER_LIKE_RE.finditer(text):
        if any(s <= m.start() < e for s, e in good_spans):
            continue
        line = first_line + text.count("\n", 0, m.start())
        errors.append((line, f"malformed roll marker '{m.group(0)}' (write '[roll: skill]' or "
                             "'[roll: skill (Character)]')"))
    return requests, errors


def strip_markers(text: str) -> str:
    """DM narration without its roll markers, whitespace tidied (what the model says besides the call)."""
    cleaned = MARKER_RE.sub("", text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return "\n".join(line.rstrip() for line in cleaned.strip().split("\n"))


def parse_result_line(text: str, line: int) -> tuple[RollResult | None, str | None]:
    """One TOOLCALL line -> RollResult, or an error message naming what to write instead."""
    m = RESULT_RE.match(text)
    if not m:
        return None, (f"cannot read roll result '{text.strip()}' (write 'roll: skill (Character) = 1d20+3 = "
                      "14+3 = 17', optionally followed by ' vs DC 15: success')")
    rest = m.group("rest")
    target_kind: Literal["DC", "AC"] | None = None
    target_value: int | None = None
    outcome: Outcome | None = None
    if t := TARGET_RE.search(rest):
        target_kind = "DC" if t.group("kind").upper() == "DC" else "AC"
        target_value = int(t.group("value"))
        word = t.group("outcome")
        if word:
            if word.lower() not in OUTCOME_WORDS:
                return None, f"unknown outcome '{word}' (write success/failure, or hit/miss against an AC)"
            outcome = OUTCOME_WORDS[word.lower()]
        rest = rest[: t.start()]
    else:
        tail = re.search(r"(?:[:,;]|->|=>|→)\s*([A-Za-z]+)\s*$", rest)
        if tail and tail.group(1).lower() in OUTCOME_WORDS:
            return None, f"outcome '{tail.group(1)}' needs a target: write 'vs DC 15: {tail.group(1)}'"
    chain = [seg.strip() for seg in rest.split("=")]
    dice = parse_dice(chain[0])
    if dice is None:
        return None, f"'{chain[0]}' is not a dice expression (write NdM+K, e.g. 1d20+3 or 2d6)"
    if len(chain) < 2 or not chain[-1]:
        return None, f"roll result has no total (write '{dice} = <faces> = <total>')"
    if not re.fullmatch(r"-?\d+", chain[-1]):
        return None, f"the last value of a roll result must be the total, got '{chain[-1]}'"
    total = int(chain[-1])
    faces: tuple[int, ...] = ()
    if len(chain) == 3:
        compact = chain[1].replace(" ", "")
        if not CHAIN_RE.fullmatch(compact):
            return None, f"cannot read dice faces '{chain[1]}' (write them like '4+5+3')"
        terms = CHAIN_TERM_RE.findall(compact)
        if len(terms) < dice.count:
            return None, f"{dice} rolls {dice.count} dice but '{chain[1]}' shows {len(terms)} value(s)"
        face_terms, mod_terms = terms[: dice.count], terms[dice.count :]
        if any(sign == "-" for sign, _ in face_terms[1:]):
            return None, f"dice faces are added, not subtracted: '{chain[1]}'"
        faces = tuple(int(n) for _, n in face_terms)
        written_mod = sum(int(n) * (-1 if sign == "-" else 1) for sign, n in mod_terms)
        if written_mod != dice.modifier:
            if len(mod_terms) > 1 or (len(mod_terms) == 1) == bool(dice.modifier):
                return None, (f"modifier {written_mod:+d} in '{chain[1]}' does not match the "
                              f"{dice.modifier:+d} of {dice}")
            shape = "+".join(["<face>"] * dice.count) + (f"{dice.modifier:+d}" if dice.modifier else "")
            return None, f"'{chain[1]}' should be {dice.count} die face(s) then the modifier: write '{shape}'"
    elif len(chain) > 3:
        return None, f"too many '=' in roll result (write '{dice} = <faces> = <total>')"
    result = RollResult(
        skill=clean_skill(m.group("skill")),
        character=m.group("char") or None,
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
