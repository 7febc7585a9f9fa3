"""The skills a ``[roll: ...]`` may name, and forgiving lookup with a close-match suggestion."""

from __future__ import annotations

import difflib
import re

ABILITY_SKILLS: dict[str, str] = {
    "acrobatics": "dexterity",
    "animal handling": "wisdom",
    "arcana": "intelligence",
    "athletics": "strength",
    "deception": "charisma",
    "history": "intelligence",
    "insight": "wisdom",
    "intimidation": "charisma",
    "investigation": "intelligence",
    "medicine": "wisdom",
    "nature": "intelligence",
    "perception": "wisdom",
    "performance": "charisma",
    "persuasion": "charisma",
    "religion": "intelligence",
    "sleight of hand": "dexterity",
    "stealth": "dexterity",
    "survival": "wisdom",
}
ABILITIES = ("strength", "dexterity", "constitution", "intelligence", "wisdom", "charisma")
SAVES = (*(f"{a} save" for a in ABILITIES), "death save")
COMBAT = ("attack", "damage", "initiative")

SKILLS: tuple[str, ...] = (*ABILITY_SKILLS, *SAVES, *COMBAT)
"""Canonical names, in the order the roll tool's JSON schema lists them."""

_ABBREVIATIONS = {"str": "strength", "dex": "dexterity", "con": "constitution",
                  "int": "intelligence", "wis": "wisdom", "cha": "charisma"}


def normalize_skill(raw: str) -> str | None:
    """The canonical name for what a person wrote (``Dex save``, ``Wisdom saving throw``), or None."""
    text = re.sub(r"\s+", " ", raw.strip().lower().replace("_", " ").replace("-", " "))
    text = re.sub(r"\b(saving throw|save)\b", "save", text)
    words = text.split(" ")
    if len(words) == 2 and words[1] == "save" and words[0] in _ABBREVIATIONS:
        text = f"{_ABBREVIATIONS[words[0]]} save"
    if text == "sleight of hands":
        text = "sleight of hand"
    return text if text in SKILLS else None


def suggest_skill(raw: str) -> str | None:
    """The closest canonical skill to a misspelt one (``perceptoin`` -> ``perception``)."""
    matches = difflib.get_close_matches(raw.strip().lower(), SKILLS, n=1, cutoff=0.6)
    return matches[0] if matches else None
