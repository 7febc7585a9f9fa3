"""A pluggable reply judge. dndtune ships only an offline rule judge; an LLM judge plugs in here.

No judge model is reachable where dndtune runs its tests, and a network judge would make
scores depend on a service. The :class:`Judge` protocol is what a user implements to add one
(a local GGUF via :class:`~dndtune.evaluate.llama_runner.LlamaCppRunner`, or an HTTP API of their
choice); :func:`dndtune.evaluate.evaluate` calls every judge on every generated DM reply and
reports each judge's mean score under its ``name``. ``docs/evaluation.md`` shows a complete one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from dndtune.dataset.chat import Message
from dndtune.evaluate.consistency import judge_reply
from dndtune.evaluate.quality import coherence, hygiene, role_check


@dataclass(frozen=True)
class JudgeItem:
    """What a judge sees: the conversation so far, the model's reply and the reference reply."""

    context: list[Message]
    reply: str
    reference: str | None
    results: tuple[dict[str, Any], ...] = ()
    """Tool results the reply should narrate (empty when none came before it)."""
    party: tuple[str, ...] = ()


@dataclass(frozen=True)
class JudgeVerdict:
    score: float
    """0 (bad) to 1 (good)."""
    reasons: tuple[str, ...] = field(default=())


@runtime_checkable
class Judge(Protocol):
    name: str

    def judge(self, item: JudgeItem) -> JudgeVerdict: ...


class RuleJudge:
    """The offline default: coherence, minus penalties for broken role and contradicted results.

    score = coherence (0 when unscored), halved when the reply breaks role (assistant talk or a
    leaked template marker) and halved again when it contradicts the roll result it narrates.
    """

    name = "rules"

    def judge(self, item: JudgeItem) -> JudgeVerdict:
        context = "\n".join(str(m.get("content") or "") for m in item.context)
        if item.reference:
            context = f"{context}\n{item.reference}"
        parts = coherence(item.reply, context)
        score = parts.score if parts is not None else 0.0
        reasons: list[str] = [] if parts is not None else ["no narration"]
        role = role_check(item.reply, context, item.party, ())
        leaks = hygiene(item.reply, 0, "stop", has_calls=True).leaked
        if role.ooc or leaks:
            score /= 2
            reasons.append("out of role: " + ", ".join((*role.ooc, *leaks)))
        outcome = judge_reply(item.reply, item.results)
        if outcome.verdict == "contradicted":
            score /= 2
            reasons.append("contradicts the roll result")
        return JudgeVerdict(score=score, reasons=tuple(reasons))
