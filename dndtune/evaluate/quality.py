"""Response quality of DM replies: stop hygiene, leaked template tokens, staying in role, coherence.

Everything here reads generated text; perplexity comes from the runner's token scores and is
only aggregated here. The checks, in the order the report lists them:

- **Hygiene.** A reply that hits the token limit instead of an end-of-turn token is a
  *runaway*; a reply containing a chat-template marker of any supported family
  (``<start_of_turn>``, ``<|im_start|>``, a ```` ```tool_response ```` fence, ...) *leaks* it;
  an empty reply without a tool call is *empty*.
- **Role.** *Out-of-character* phrases are assistant talk a game master never says
  (``as an AI``, ``language model``, ``I can't assist``, ``I hope this helps``, ...). A
  *foreign roller* is a tool call for a character who is neither in the party nor named anywhere
  in the conversation. *Foreign names* are capitalised, not-sentence-initial words that appear
  nowhere in the system prompt, the conversation so far or the reference reply: characters and
  places from outside the scenario. A reply is *in role* when it has no out-of-character phrase,
  no leaked marker and no foreign roller (foreign names are reported, not failed: a DM may invent
  an innkeeper).
- **Coherence** (0-1), the mean of four parts, each 0-1:
  ``wellformed`` (share of words that are words, numbers or dice), ``non_repetition`` (distinct
  word trigrams / trigrams), ``grounding`` (share of the reply's content words that occur in the
  conversation, divided by :data:`GROUNDING_TARGET` and capped at 1) and ``complete`` (the
  narration ends like a sentence). Tool-call blocks are removed first; a reply that is only a tool
  call is not scored. The hand-written reference replies of the sample scenarios score 0.97 on
  average (lowest 0.75) and a randomly initialised model's text below 0.4 (``tests/evaluate``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from dndtune.evaluate.consistency import strip_tool_blocks
from dndtune.scenario.skills import ABILITIES, SKILLS

LEAK_MARKERS = (
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<start_of_image>",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_response>", "</tool_response>",
    "```tool_response", "<|begin_of_text|>", "<|eot_id|>",
)
"""Chat-template markers of every supported family; none belongs in a reply."""

OOC_PATTERNS = tuple(re.compile(p, re.I) for p in (
    r"\bas an? (?:ai|artificial intelligence|language model|assistant|llm)\b",
    r"\b(?:large )?language model\b",
    r"\bi(?:'m| am) (?:an? )?(?:ai|assistant|chatbot|bot)\b",
    r"\bi (?:can(?:'|no)t|cannot|am unable to) (?:help|assist|comply|do that)\b",
    r"\bi(?:'m| am) (?:sorry|afraid),? but i\b",
    r"\bhow (?:can|may) i (?:help|assist) you\b",
    r"\bis there anything else\b",
    r"\bi hope (?:this|that) helps\b",
    r"\b(?:openai|chatgpt|anthropic|google ai)\b",
    r"\bcertainly! here(?:'s| is)\b",
    r"\bhere(?:'s| is) (?:a|the) (?:response|reply|continuation|story)\b",
    r"\(\s*ooc\b", r"\bout of character\b",
    r"\bas your (?:dungeon master|dm) ai\b",
))
"""Assistant talk that breaks the game master role."""

GROUNDING_TARGET = 0.25
"""Share of content words found in the conversation that counts as fully grounded.

A DM reply brings new words to every scene: in the 174 reference DM turns of the sample
scenarios, 28 % of a reply's content words (median 27 %) already occur in the conversation before
it. A quarter therefore earns the full grounding score; text about something else earns little."""

_STOPWORDS = frozenset(
    " ".join((
        "a about above after again against all also an and any are as at be because been before being",
        "below between both but by can could did do does doing down during each few for from further had",
        "has have having he her here hers herself him himself his how i if in into is it its itself just",
        "me more most my myself no nor not now of off on once only or other our ours out over own same she",
        "should so some such than that the their theirs them then there these they this those through to",
        "too under until up very was we were what when where which while who whom why will with would you",
        "your yours yourself onto upon still even back away well like make made they're it's",
    )).split(" ")
)
_COMMON_CAPITALS = frozenset(
    {w.capitalize() for w in _STOPWORDS}
    | {w.capitalize() for s in SKILLS for w in s.split()}
    | {a.capitalize() for a in ABILITIES}
    | {"DC", "AC", "HP", "XP", "GP", "Dungeon", "Master", "DM", "Roll", "Check", "Save", "Saving", "Throw",
       "Mr", "Mrs", "Sir", "Lady", "Lord", "King", "Queen", "God", "Gods", "Monday", "Tuesday", "Wednesday",
       "Thursday", "Friday", "Saturday", "Sunday", "OK", "Okay", "Yes", "No", "Oh", "Ah", "Hey"})
_WORD = re.compile(r"^[\"'“‘(\[*_-]*(?:[A-Za-z][A-Za-z'’-]*|\d+(?:d\d+)?(?:[+-]\d+)?(?:st|nd|rd|th|gp|ft)?|"
                   r"d\d+)[\"'”’)\].,!?;:*_—-]*$")
_END = re.compile(r"[.!?…][\"'”’)*_]*$")
_NAME = re.compile(r"(?<![\w'’])([A-Z][a-z]{2,})(?![\w'’])")

Finish = Literal["stop", "length"]


@dataclass(frozen=True)
class HygieneCheck:
    tokens: int
    finish: Finish
    leaked: tuple[str, ...]
    empty: bool

    @property
    def runaway(self) -> bool:
        return self.finish == "length"


@dataclass(frozen=True)
class RoleCheck:
    ooc: tuple[str, ...]
    foreign_rollers: tuple[str, ...]
    foreign_names: tuple[str, ...]


@dataclass(frozen=True)
class Coherence:
    wellformed: float
    non_repetition: float
    grounding: float
    complete: float

    @property
    def score(self) -> float:
        return (self.wellformed + self.non_repetition + self.grounding + self.complete) / 4


class QualityScores(BaseModel):
    replies: int = 0
    perplexity: float | None = None
    """exp(mean negative log-likelihood per token) of the reference DM turns."""
    scored_turns: int = 0
    scored_tokens: int = 0
    mean_reply_tokens: float | None = None
    max_reply_tokens: int | None = None
    stop_rate: float | None = None
    runaway_rate: float | None = None
    leak_rate: float | None = None
    empty_rate: float | None = None
    ooc_rate: float | None = None
    foreign_roller_rate: float | None = None
    foreign_name_rate: float | None = None
    in_role_rate: float | None = None
    coherence: float | None = None
    coherence_parts: dict[str, float] = {}


def hygiene(text: str, tokens: int, finish: Finish, *, has_calls: bool) -> HygieneCheck:
    leaked = tuple(m for m in LEAK_MARKERS if m in text)
    empty = not strip_tool_blocks(text).strip() and not has_calls
    return HygieneCheck(tokens=tokens, finish=finish, leaked=leaked, empty=empty)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'’-]*", text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if len(w) >= 4 and w not in _STOPWORDS]


def name_like(text: str) -> list[str]:
    """Capitalised words that are not the first word of a sentence or of a quotation."""
    found: list[str] = []
    for m in _NAME.finditer(text):
        before = text[: m.start()].rstrip(" \"'“‘(*_")
        if not before or before[-1] in ".!?:\n—":
            continue
        if m.group(1) not in _COMMON_CAPITALS:
            found.append(m.group(1))
    return found


def role_check(text: str, context: str, party: Sequence[str], rollers: Iterable[str | None]) -> RoleCheck:
    narration = strip_tool_blocks(text)
    ooc = tuple(m.group(0) for p in OOC_PATTERNS for m in p.finditer(narration))
    known = set(words(context)) | {w for name in party for w in words(name)}
    foreign_rollers = tuple(r for r in rollers if r and not set(words(r)) & known)
    foreign_names = tuple(dict.fromkeys(n for n in name_like(narration) if n.lower() not in known))
    return RoleCheck(ooc=ooc, foreign_rollers=foreign_rollers, foreign_names=foreign_names)


def coherence(text: str, context: str) -> Coherence | None:
    """The coherence parts of one reply (None when it is only a tool call)."""
    narration = strip_tool_blocks(text).strip()
    if not narration:
        return None
    tokens = narration.split()
    wellformed = sum(1 for t in tokens if _WORD.match(t)) / len(tokens)
    ws = words(narration)
    trigrams = [tuple(ws[i:i + 3]) for i in range(len(ws) - 2)]
    non_repetition = len(set(trigrams)) / len(trigrams) if trigrams else 1.0
    content = content_words(narration)
    if content:
        seen = set(words(context))
        share = sum(1 for w in content if w in seen) / len(content)
        grounding = min(1.0, share / GROUNDING_TARGET)
    else:
        grounding = 0.0
    complete = 1.0 if _END.search(narration) else 0.0
    return Coherence(wellformed=wellformed, non_repetition=non_repetition, grounding=grounding, complete=complete)


def perplexity(nll_sum: float, tokens: int) -> float | None:
    if tokens <= 0:
        return None
    # Capped so a degenerate model reports a huge but finite number (JSON has no infinity).
    return math.exp(min(nll_sum / tokens, 700.0))


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarize(hygienes: Sequence[HygieneCheck], roles: Sequence[RoleCheck], coherences: Sequence[Coherence | None],
              nll_sum: float, nll_tokens: int, scored_turns: int) -> QualityScores:
    scored = [c for c in coherences if c is not None]
    parts = {}
    if scored:
        parts = {name: sum(getattr(c, name) for c in scored) / len(scored)
                 for name in ("wellformed", "non_repetition", "grounding", "complete")}
    lengths = [h.tokens for h in hygienes]
    return QualityScores(
        replies=len(hygienes),
        perplexity=perplexity(nll_sum, nll_tokens),
        scored_turns=scored_turns,
        scored_tokens=nll_tokens,
        mean_reply_tokens=sum(lengths) / len(lengths) if lengths else None,
        max_reply_tokens=max(lengths) if lengths else None,
        stop_rate=_rate([not h.runaway for h in hygienes]),
        runaway_rate=_rate([h.runaway for h in hygienes]),
        leak_rate=_rate([bool(h.leaked) for h in hygienes]),
        empty_rate=_rate([h.empty for h in hygienes]),
        ooc_rate=_rate([bool(r.ooc) for r in roles]),
        foreign_roller_rate=_rate([bool(r.foreign_rollers) for r in roles]),
        foreign_name_rate=_rate([bool(r.foreign_names) for r in roles]),
        in_role_rate=_rate([not (r.ooc or r.foreign_rollers or h.leaked)
                            for r, h in zip(roles, hygienes, strict=True)]),
        coherence=sum(c.score for c in scored) / len(scored) if scored else None,
        coherence_parts=parts,
    )
