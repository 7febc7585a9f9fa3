"""Verify an exported GGUF in llama.cpp against the merged HF model it came from.

Required checks (a failure fails the export): the file loads; its embedded chat template is the
tokenizer's and renders system, user, tool-call and tool-result messages; llama.cpp tokenizes
rendered prompts to the same ids as the HF tokenizer; the profile's end-of-turn token is an
end-of-generation token in llama.cpp; and next-token distributions match the HF model's within
a KL-divergence tolerance that grows as the quantization gets coarser.

Behaviour checks (warnings, or failures with ``strict``): a greedy completion of a held-out DM
prompt ends at the end-of-turn token, and a prompt that needs a roll produces a tool call the
model profile's parser reads. They depend on how well the model was trained as much as on the
export, so they only block a release when asked to. Both completions are decoded under the roll
grammar the deploy bundle ships (:func:`dndtune.models.grammar.roll_grammar`), as the app
decodes them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dndtune.dataset.chat import Message, tools
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, NullSink, VerifyChecked
from dndtune.export.process import run_llama_worker
from dndtune.export.quants import Rung
from dndtune.export.reference import Conversation, HfReference, ScoredSequence
from dndtune.gguf.quant_types import QUANT_TYPES
from dndtune.models.grammar import roll_grammar

MAX_NEW_TOKENS = 96


def kl_tolerance(rung: Rung) -> float:
    """Mean KL(HF || GGUF) in nats allowed for ``rung``: its file type's, or its embedding type's if looser."""
    tolerance = QUANT_TYPES[rung.quant].kl_tolerance
    if rung.embedding is not None:
        tolerance = max(tolerance, QUANT_TYPES[rung.embedding].kl_tolerance)
    return tolerance


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    required: bool = True


@dataclass
class VerifyReport:
    rung: str
    checks: list[Check] = field(default_factory=list)
    parity: dict[str, float] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    perplexity: float | None = None
    perplexity_tokens: int = 0

    def failures(self, *, strict: bool = False) -> list[Check]:
        return [c for c in self.checks if not c.passed and (c.required or strict)]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Prompts:
    """What a GGUF is probed with, rendered and tokenized on the HF side."""

    stop: list[int]
    roll: list[int] | None
    parity: list[list[int]]
    render_check: tuple[list[Message], list[dict[str, Any]] | None]
    rendered_texts: list[str]


def builtin_conversation() -> Conversation:
    """A DM exchange that needs a roll, for runs without held-out data."""
    call = {"type": "function", "function": {"name": "roll", "arguments": {"skill": "stealth", "character": "Mira"}}}
    result = json.dumps({"skill": "stealth", "character": "Mira", "dice": "1d20+5", "rolls": [12], "modifier": 5,
                         "total": 17, "dc": 15, "outcome": "success"})

    def msg(role: str, content: str, **extra: Any) -> Message:
        return {"role": role, "content": content, "name": extra.get("name"), "tool_calls": extra.get("tool_calls")}

    return Conversation(messages=[
        msg("system", "Role: You are the Dungeon Master. Ask for rolls with the roll tool.\n"
                      "Party:\n- Mira (rogue, level 3)"),
        msg("user", "Mira: I sneak past the sleeping guard."),
        msg("assistant", "Make a Stealth check, Mira.", tool_calls=[call]),
        msg("tool", result, name="roll"),
        msg("assistant", "The guard snores on. You slip past into the crypt."),
    ], tools=tools())


def build_prompts(reference: HfReference, conversations: list[Conversation]) -> Prompts:
    pool = conversations or [builtin_conversation()]
    stop: list[int] | None = None
    roll: list[int] | None = None
    parity: list[list[int]] = []
    texts: list[str] = []
    render_check: tuple[list[Message], list[dict[str, Any]] | None] | None = None
    for conv in pool:
        for i, message in enumerate(conv.messages):
            if message.get("role") != "assistant":
                continue
            text = reference.render(conv.messages[:i], conv.tools, add_generation_prompt=True)
            tokens = reference.encode(text)
            if stop is None:
                stop = tokens
            if roll is None and message.get("tool_calls"):
                roll = tokens
                render_check = (conv.messages, conv.tools)
            if len(parity) < 4:
                parity.append(tokens)
                texts.append(text)
        if stop is not None and roll is not None and len(parity) >= 4:
            break
    if stop is None:
        if conversations:
            return build_prompts(reference, [])
        raise DndtuneError("no assistant turn to prompt the model with", path=str(reference.folder),
                           fix="check the held-out conversations (dataset/eval.jsonl)")
    if render_check is None:
        render_check = (pool[0].messages, pool[0].tools)
    return Prompts(stop=stop, roll=roll, parity=parity, render_check=render_check, rendered_texts=texts)


def verify_gguf(path: Path, rung: Rung, reference: HfReference, profile: Any, prompts: Prompts,
                sequences: list[ScoredSequence], work: Path, *, threads: int, pruned: bool = False,
                allow_drift: bool = False, grammar: bool = True, events: EventSink | None = None) -> VerifyReport:
    """Run every check on ``path`` (one llama.cpp worker run) and report them.

    ``grammar``: decode the behaviour checks' replies under the roll grammar (False: unconstrained).
    """
    import numpy as np

    sink = events or NullSink()
    report = VerifyReport(rung=rung.label)
    reference_file = work / f".parity-{rung.label}.npy"
    np.save(reference_file, reference.logprobs(prompts.parity))
    eot_id = reference.token_id(profile.end_of_turn_token)
    longest = max([len(p) for p in prompts.parity] + [len(s.tokens) for s in sequences] + [len(prompts.stop)])
    constraint = roll_grammar(profile) if grammar else None
    request = {
        "model": str(path),
        "n_ctx": max(512, longest + MAX_NEW_TOKENS + 8),
        "n_threads": threads,
        "token_ids": [eot_id] if eot_id is not None else [],
        "tokenize": prompts.rendered_texts,
        "generate": [{"tokens": prompts.stop, "max_tokens": MAX_NEW_TOKENS, "grammar": constraint}]
        + ([{"tokens": prompts.roll, "max_tokens": MAX_NEW_TOKENS, "grammar": constraint}] if prompts.roll else []),
        "kl": [{"tokens": p, "reference": str(reference_file), "row": i} for i, p in enumerate(prompts.parity)],
        "nll": [{"tokens": s.tokens, "mask": s.mask} for s in sequences],
    }
    try:
        result = run_llama_worker("probe", request, what=f"loading {path.name} in llama.cpp", path=path)
    finally:
        reference_file.unlink(missing_ok=True)
    checks = report.checks
    checks.append(Check("loads", True, f"loaded in {result['load_s']:.2f} s"))
    _template_checks(checks, reference, result, prompts)
    ours = [list(map(int, t)) for t in result["tokenized"]]
    theirs = [reference.encode(t) for t in prompts.rendered_texts]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    detail = f"{same}/{len(theirs)} rendered prompts tokenize identically in llama.cpp and transformers"
    mismatch = next(((a, b) for a, b in zip(ours, theirs, strict=True) if a != b), None)
    if mismatch is not None:
        detail += "; " + _first_difference(reference, mismatch[0], mismatch[1])
    checks.append(Check("tokenizer_parity", same == len(theirs), detail))
    if eot_id is None:
        checks.append(Check("end_of_turn_is_eog", False, f"{profile.end_of_turn_token} is not in the vocabulary"))
    else:
        eog = bool(result["eog"].get(str(eot_id)))
        checks.append(Check("end_of_turn_is_eog", eog,
                            f"{profile.end_of_turn_token} (id {eot_id}) {'ends' if eog else 'does not end'} "
                            "generation in llama.cpp"))
    kls = result["kl"]
    tolerance = kl_tolerance(rung)
    mean_kl = float(np.mean([k["kl"] for k in kls]))
    report.parity = {
        "mean_kl": mean_kl, "max_kl": float(np.max([k["kl"] for k in kls])), "tolerance": tolerance,
        "top1_agreement": float(np.mean([k["top1"] for k in kls])),
        "top5_overlap": float(np.mean([k["topk_overlap"] for k in kls])), "prompts": float(len(kls)),
    }
    # A pruned model is meant to differ from the HF one (the perplexity gate judged it instead);
    # allow_drift is the user accepting a coarse type's measured drift, still reported.
    note = " (pruned: informational)" if pruned else (" (drift allowed)" if allow_drift else "")
    checks.append(Check("logit_parity", mean_kl <= tolerance,
                        f"mean KL(HF || GGUF) {mean_kl:.4f} nats (tolerance {tolerance}), top-1 agreement "
                        f"{report.parity['top1_agreement']:.0%}, top-5 overlap {report.parity['top5_overlap']:.0%}"
                        + note, required=not (pruned or allow_drift)))
    _behaviour_checks(report, reference, profile, result["generated"], constrained=constraint is not None)
    nll = sum(float(n["nll"]) for n in result["nll"])
    count = sum(int(n["count"]) for n in result["nll"])
    if count:
        report.perplexity = float(np.exp(nll / count))
        report.perplexity_tokens = count
    for check in checks:
        sink.emit(VerifyChecked(message=f"{'ok' if check.passed else 'FAILED'} {check.name}: {check.detail}",
                                level="info" if check.passed else ("error" if check.required else "warning"),
                                rung=rung.label, check=check.name, passed=check.passed, required=check.required))
    return report


def _first_difference(reference: HfReference, ours: list[int], theirs: list[int]) -> str:
    # Lengths differ when one side merged what the other split: compare the common prefix.
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))

    def show(ids: list[int]) -> str:
        window = ids[at:at + 3]
        return " ".join(f"{reference.decode([t])!r}({t})" for t in window) or "end"

    return f"first difference at token {at}: transformers {show(theirs)}, llama.cpp {show(ours)}"


def _template_checks(checks: list[Check], reference: HfReference, result: dict[str, Any], prompts: Prompts) -> None:
    embedded = result["metadata"].get("tokenizer.chat_template")
    checks.append(Check("chat_template_embedded", embedded == reference.chat_template,
                        "GGUF carries the tokenizer's chat template" if embedded == reference.chat_template
                        else ("GGUF has no chat template" if not embedded else "GGUF chat template differs")))
    if not embedded:
        checks.append(Check("chat_template_renders", False, "nothing to render"))
        return
    messages, tools = prompts.render_check
    try:
        text = reference.render(messages, tools, add_generation_prompt=True, chat_template=embedded)
    except Exception as exc:  # a Jinja error of any kind means the template is unusable on device
        checks.append(Check("chat_template_renders", False, f"{type(exc).__name__}: {exc}"))
        return
    wanted = [str(m.get("content") or "") for m in messages if m.get("role") in ("system", "user", "tool")]
    missing = [w[:30] for w in wanted if w and w not in text]
    checks.append(Check("chat_template_renders", not missing,
                        "system, user and tool messages render" if not missing
                        else f"rendered text lacks {missing[0]!r}"))


def _behaviour_checks(report: VerifyReport, reference: HfReference, profile: Any,
                      generated: list[dict[str, Any]], *, constrained: bool) -> None:
    how = " under the roll grammar" if constrained else ""
    stop = generated[0]
    text = reference.decode([int(t) for t in stop["tokens"]])
    report.samples["dm_reply"] = text
    report.checks.append(Check(
        "stops_at_end_of_turn", bool(stop["stopped"]),
        f"greedy reply{how} ended at end-of-turn after {len(stop['tokens'])} tokens" if stop["stopped"]
        else f"no end-of-turn within {MAX_NEW_TOKENS} tokens{how}", required=False))
    if len(generated) < 2:
        report.checks.append(Check("tool_call_parseable", False, "no held-out turn asks for a roll", required=False))
        return
    roll_text = reference.decode([int(t) for t in generated[1]["tokens"]])
    report.samples["roll_reply"] = roll_text
    calls = profile.parse_tool_calls(roll_text)
    report.checks.append(Check(
        "tool_call_parseable", bool(calls),
        f"roll prompt produced {calls[0]['name']}({json.dumps(calls[0]['arguments'])}){how}" if calls
        else f"roll prompt produced no parseable tool call{how}", required=False))
