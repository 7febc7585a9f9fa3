"""Dialogue variation: other phrasings of player turns (openers and table small talk)."""

from __future__ import annotations

import random
import re

from dndtune.dataset import pools
from dndtune.scenario.models import Scenario, TurnRole

DIALOGUE_RATE = 0.6
"""Share of player turns that get a phrasing variation in one copy."""

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
