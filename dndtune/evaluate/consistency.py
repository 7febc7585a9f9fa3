"""Does a DM reply narrate the roll result it was given? Rules that read the reply.

After a tool result that carries an outcome (``"outcome": "success" | "failure" | "hit" |
"miss"`` against a ``dc`` or ``ac``), the reply is read for *cues*:

1. **Outcome words.** Phrases that narrate success (``succeeds``, ``manages to``, ``notices``,
   ``finds``, ``hits``, ``for 7 damage``, ``clears it``, ...) or failure (``fails``, ``misses``,
   ``can't``, ``nothing``, ``slips``, ``harmlessly``, ...). Which phrases count depends on the
   roll: an attack reads hit/miss language, a saving throw also reads conditions
   (``restrained``, ``frightened``) and resistance (``shrugs off``), and for stealth, deception
   and sleight of hand being *noticed* is a failure rather than a perception success.
2. **Negation.** A cue with ``not``, ``n't``, ``never``, ``no`` or ``without`` among the three
   words before it counts for the other side (``doesn't notice`` is a failure cue).
3. **Numbers.** A stated total (``rolled a 7``, ``a total of 12``, ``A 14, ...``) that is none of
   the results' totals, faces or targets is a *wrong number*, which contradicts the result.

The verdict compares cue counts: more cues for the result's outcome is **consistent**, more for
the opposite is **contradicted**, a tie (including no cues at all) is **unclear**. When several
results disagree (one character succeeds, another fails), each is judged only on the sentences
that name its character; the turn is contradicted if any of them is, consistent if all are.

Scores: ``consistency`` = consistent / (consistent + contradicted), the share of decided replies
that got the outcome right; ``coverage`` = decided / judged, how often the rules could tell.
On the 404 result turns of the scenarios in ``training-data/`` the rules decide about half of the
hand-written reference replies and wrongly call about 10 % of them contradicted (word cues such as
"creaks open" or "can't reach" in a sentence about something else), so read consistency as a rough
signal (see ``tests/evaluate/test_consistency.py``); it is not one of the goals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

Verdict = Literal["consistent", "contradicted", "unclear", "not_applicable"]
Side = Literal["success", "failure"]

_NEGATORS = frozenset({"not", "never", "no", "without", "hardly"})
_NEGATION_WINDOW = 3

_GENERIC_SUCCESS = (
    r"succeed(?:s|ed)?", r"success(?:ful|fully)?", r"manag(?:es|ed|e) to", r"(?:exactly|just) enough",
    r"clears? (?:it|the dc)", r"pulls? it off", r"does it", r"works", r"worked", r"easily", r"safely",
    r"notices?", r"noticed", r"spots?", r"spotted", r"finds?", r"found", r"catch(?:es)? (?:it|sight)",
    r"recogni[sz]es?", r"recogni[sz]ed", r"remembers?", r"recalls?", r"realizes?", r"knows?", r"reads? (?:it|him|her)",
    r"understands?", r"makes? it", r"keeps? (?:her|his|their) (?:footing|balance|grip)", r"holds? on",
    r"convinced?", r"agrees?", r"accepts?", r"believes?", r"relents?", r"discount", r"deal",
    r"springs? open", r"comes? free", r"opens?", r"click", r"stable", r"steadies", r"cheers?", r"applau\w+",
    r"softens?", r"clear and certain", r"genuine",
)
_GENERIC_FAILURE = (
    r"fail(?:s|ed|ure)?", r"can'?t", r"cannot", r"couldn'?t", r"unable", r"nothing(?! but)", r"no sign",
    r"no luck", r"not enough", r"falls? short", r"too (?:late|slow)", r"slips?", r"slipped", r"stumbles?",
    r"loses? (?:her|his|their) (?:grip|footing|balance)", r"gives? way", r"refuses?", r"shakes? (?:her|his) head",
    r"sees? through", r"unconvinced", r"suspicious", r"jams?", r"holds? fast", r"won'?t budge", r"snaps?",
    r"alarm", r"puzzl(?:es|ed|ing)", r"tricks?", r"no idea", r"doesn'?t work", r"useless",
    r"slides? (?:right )?off", r"unimpressed", r"scoffs?", r"creaks?",
)
_ATTACK_SUCCESS = (
    r"hits?", r"strikes?(?: true| home)?", r"lands?", r"connects?", r"bites?(?: deep)?", r"cuts?", r"slices?",
    r"slams? into", r"thuds? into", r"punch(?:es)? through", r"shears? through", r"sinks? into", r"pierces?",
    r"finds? (?:the|a) gap", r"bursts? against", r"crumples?", r"collapses?", r"drops?", r"falls?",
)
_ATTACK_FAILURE = (
    r"miss(?:es|ed)?", r"harmless(?:ly)?", r"no harm", r"glances? off", r"rings? off", r"deflect(?:s|ed)?",
    r"goes wide", r"went wide", r"whistles? past", r"sails? past", r"scrapes?", r"parr(?:y|ies|ied)", r"dodges?",
    r"bounces? off", r"skitters? off", r"clangs? off", r"just short",
)
_SAVE_SUCCESS = (r"resists?", r"shrugs? off", r"shakes? off", r"blinks? (?:it|the haze) away", r"untouched",
                 r"unharmed", r"holds? firm", r"breaks? free")
_SAVE_FAILURE = (r"restrained", r"frightened", r"charmed", r"poisoned", r"paralyzed", r"stunned", r"prone",
                 r"flees?", r"cowers?", r"turned", r"staggers?", r"coughing", r"succumbs?", r"full damage",
                 r"wanders? off", r"walking off", r"starts? walking")
_NOTICED = r"(?:notices?|noticed|spots?|spotted|sees?|hears?|catch(?:es)?) (?:you|him|her|them)"
_DAMAGE = r"(?:for )?\d+ (?:\w+ )?damage"

_STEALTHY = frozenset({"stealth", "deception", "sleight of hand"})
_NUMBER_PATTERNS = (
    re.compile(r"\b(?:roll(?:ed|s)?|total(?:s|ing)?(?: of)?|got|score[sd]?)\s+(?:an?\s+|of\s+)?(\d{1,3})\b", re.I),
    re.compile(r"(?:^|[.!?]\s+)an?\s+(\d{1,2})\s*(?:[,.!:;]|is\b|isn't\b|was\b)", re.I),
)


@dataclass(frozen=True)
class OutcomeCheck:
    verdict: Verdict
    expected: Side | None
    success_cues: tuple[str, ...] = ()
    failure_cues: tuple[str, ...] = ()
    wrong_numbers: tuple[int, ...] = ()


class ConsistencyScores(BaseModel):
    judged: int = 0
    consistent: int = 0
    contradicted: int = 0
    unclear: int = 0
    consistency: float | None = None
    """consistent / (consistent + contradicted)."""
    coverage: float | None = None
    """(consistent + contradicted) / judged."""


def result_side(result: dict[str, Any]) -> Side | None:
    """``success`` / ``failure`` of a tool result, or None when it carries no outcome."""
    outcome = str(result.get("outcome") or "").lower()
    if outcome in ("success", "hit"):
        return "success"
    if outcome in ("failure", "miss"):
        return "failure"
    return None


_EXPLICIT = re.compile(r"^(?:succe\w*|fail\w*|hits?|miss\w*|(?:for )?\d+ (?:\w+ )?damage)$", re.I)
"""Outcome vocabulary proper: it weighs twice as much as a descriptive verb (``slips``, ``finds``)."""


@dataclass(frozen=True)
class _Lexicon:
    success: re.Pattern[str]
    failure: re.Pattern[str]


def _compile(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I)


def _lexicon(skills: set[str]) -> _Lexicon:
    success = list(_GENERIC_SUCCESS)
    failure = list(_GENERIC_FAILURE)
    if "attack" in skills:
        success += [*_ATTACK_SUCCESS, _DAMAGE]
        failure += _ATTACK_FAILURE
    if any(s.endswith(" save") for s in skills):
        success += _SAVE_SUCCESS
        failure += _SAVE_FAILURE
    if skills & _STEALTHY:
        # Being seen is the failure here; "notices" etc. are then the guard's success, not ours.
        success = [w for w in success if not w.startswith(("notice", "spot"))]
        failure.append(_NOTICED)
    return _Lexicon(success=_compile(success), failure=_compile(failure))


def _negated(text: str, start: int) -> bool:
    # Negation reaches back at most three words and never across a clause boundary.
    clause = re.split(r"[.,;:!?]", text[:start])[-1].lower()
    before = re.findall(r"[a-z']+", clause)[-_NEGATION_WINDOW:]
    return any(w in _NEGATORS or w.endswith("n't") for w in before)


def _cues(text: str, lexicon: _Lexicon) -> tuple[list[str], list[str]]:
    found_success: list[str] = []
    found_failure: list[str] = []
    taken: list[tuple[int, int]] = []
    # Failure patterns first: "can't find" must read as one failure cue, not a negated success.
    for pattern, side in ((lexicon.failure, "failure"), (lexicon.success, "success")):
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            lands_on_success = (side == "success") != _negated(text, m.start())
            (found_success if lands_on_success else found_failure).append(m.group(0).lower())
    return found_success, found_failure


def cue_weight(cues: Iterable[str]) -> int:
    return sum(2 if _EXPLICIT.match(c) else 1 for c in cues)


def _stated_numbers(text: str) -> list[int]:
    return [int(m.group(1)) for p in _NUMBER_PATTERNS for m in p.finditer(text)]


def _known_numbers(results: Sequence[dict[str, Any]]) -> set[int]:
    known: set[int] = set()
    for r in results:
        for key in ("total", "dc", "ac", "modifier"):
            value = r.get(key)
            if isinstance(value, int):
                known.add(abs(value))
        known.update(v for v in r.get("rolls") or () if isinstance(v, int))
    return known


def strip_tool_blocks(text: str) -> str:
    """The narration only: tool-call blocks of either family removed."""
    text = re.sub(r"<tool_call>.*?(?:</tool_call>|$)", " ", text, flags=re.S)
    return re.sub(r"```tool_call.*?(?:```|$)", " ", text, flags=re.S)


def _judge_text(text: str, results: Sequence[dict[str, Any]], expected: Side, all_results: Sequence[dict[str, Any]]
                ) -> OutcomeCheck:
    skills = {str(r.get("skill") or "").lower() for r in results}
    s_cues, f_cues = _cues(text, _lexicon(skills))
    known = _known_numbers(all_results)
    wrong = tuple(n for n in _stated_numbers(text) if n not in known)
    for_side, against = (s_cues, f_cues) if expected == "success" else (f_cues, s_cues)
    if wrong or cue_weight(against) > cue_weight(for_side):
        verdict: Verdict = "contradicted"
    elif cue_weight(for_side) > cue_weight(against):
        verdict = "consistent"
    else:
        verdict = "unclear"
    return OutcomeCheck(verdict=verdict, expected=expected, success_cues=tuple(s_cues),
                        failure_cues=tuple(f_cues), wrong_numbers=wrong)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _first_name(result: dict[str, Any]) -> str:
    return str(result.get("character") or "").split(" ")[0]


def _judge_mixed(text: str, results: Sequence[dict[str, Any]]) -> OutcomeCheck:
    """One character both succeeds and fails (stealth fails, search succeeds): both must show."""
    s_cues, f_cues = _cues(text, _lexicon({str(r.get("skill") or "").lower() for r in results}))
    verdict: Verdict = "consistent" if s_cues and f_cues else "unclear"
    return OutcomeCheck(verdict=verdict, expected=None, success_cues=tuple(s_cues), failure_cues=tuple(f_cues))


def judge_reply(reply: str, results: Sequence[dict[str, Any]]) -> OutcomeCheck:
    """Judge one reply against the tool results that came right before it."""
    with_outcome = [r for r in results if result_side(r) is not None]
    if not with_outcome:
        return OutcomeCheck(verdict="not_applicable", expected=None)
    text = strip_tool_blocks(reply)
    sides = {result_side(r) for r in with_outcome}
    if len(sides) == 1:
        side = result_side(with_outcome[0])
        assert side is not None
        return _judge_text(text, with_outcome, side, results)
    checks: list[OutcomeCheck] = []
    for result in with_outcome:
        name = _first_name(result)
        side = result_side(result)
        assert side is not None
        about = " ".join(s for s in _sentences(text) if name and re.search(rf"\b{re.escape(name)}\b", s))
        if not about:
            checks.append(OutcomeCheck(verdict="unclear", expected=side))
        elif any(_first_name(r) == name and result_side(r) != side for r in with_outcome):
            checks.append(_judge_mixed(about, [r for r in with_outcome if _first_name(r) == name]))
        else:
            checks.append(_judge_text(about, [result], side, results))
    verdicts = {c.verdict for c in checks}
    overall: Verdict = ("contradicted" if "contradicted" in verdicts
                        else "consistent" if verdicts == {"consistent"} else "unclear")
    return OutcomeCheck(verdict=overall, expected=None,
                        success_cues=tuple(c for check in checks for c in check.success_cues),
                        failure_cues=tuple(c for check in checks for c in check.failure_cues),
                        wrong_numbers=tuple(n for check in checks for n in check.wrong_numbers))


def summarize(checks: Iterable[OutcomeCheck]) -> ConsistencyScores:
    s = ConsistencyScores()
    for c in checks:
        if c.verdict == "not_applicable":
            continue
        s.judged += 1
        s.consistent += c.verdict == "consistent"
        s.contradicted += c.verdict == "contradicted"
        s.unclear += c.verdict == "unclear"
    decided = s.consistent + s.contradicted
    s.consistency = s.consistent / decided if decided else None
    s.coverage = decided / s.judged if s.judged else None
    return s
