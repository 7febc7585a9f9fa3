"""Does the estimated peak fit, and if not, which recipe changes would make it fit."""

from __future__ import annotations

from typing import Any

from dndtune.env.environment import EnvReport
from dndtune.env.memory import MemoryEstimate, estimate_peak_memory
from dndtune.env.report import Check
from dndtune.models.profiles import ModelProfile, builtin_profiles
from dndtune.recipe.schema import Recipe
from dndtune.units import format_size

WARN_FRACTION = 0.85
"""Warn when the estimated peak uses more than this share of the available memory."""


def memory_check(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> Check:
    """Estimated peak against what is available: pass below 85 %, warn up to 100 %, fail above."""
    estimate = estimate_peak_memory(recipe, profile, backend=env.backend, bf16_supported=env.bf16_supported)
    available = env.available_memory
    share = estimate.total / available if available else float("inf")
    message = (f"estimated peak {format_size(estimate.total)} of {format_size(available)} {env.memory_label} "
               f"available ({share:.0%}); {describe_estimate(estimate)}")
    if share <= WARN_FRACTION:
        return Check("memory", "pass", message)
    suggestions = memory_suggestions(recipe, profile, env)
    fix = "try: " + "; ".join(suggestions) if suggestions else "use a machine with more memory"
    return Check("memory", "warn" if share <= 1.0 else "fail", message, fix)


def describe_estimate(estimate: MemoryEstimate) -> str:
    parts = [("weights", estimate.weights), ("LoRA+optimizer", estimate.lora),
             ("activations", estimate.activations + estimate.attention), ("logits/loss", estimate.logits),
             ("runtime", estimate.overhead)]
    return ", ".join(f"{name} {format_size(value)}" for name, value in parts)


def memory_suggestions(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> list[str]:
    """Concrete recipe changes, each with the estimate it gives, least costly to quality first.

    Changes that fit on their own are listed; when none does, one combination that fits (or
    comes closest) is given instead.
    """
    budget = int(env.available_memory * WARN_FRACTION)
    steps = (_fewer_per_step, _checkpointing, _four_bit, _shorter_sequences, _smaller_profile)
    single = [change for step in steps if (change := step(recipe, profile, env, budget)) is not None]
    fitting = [(label, size) for label, r, p in single if (size := _estimate(r, p, env)) <= budget]
    if fitting:
        return [f"{label} (est. {format_size(size)})" for label, size in fitting]
    labels: list[str] = []
    current, current_profile = recipe, profile
    for step in steps:
        change = step(current, current_profile, env, budget)
        if change is None:
            continue
        label, current, current_profile = change
        labels.append(label)
        if _estimate(current, current_profile, env) <= budget:
            break
    if not labels:
        return []
    return [f"all of: {', '.join(labels)} (est. {format_size(_estimate(current, current_profile, env))})"]


Change = tuple[str, Recipe, ModelProfile]


def _fewer_per_step(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    if recipe.train.batch_size == 1:
        return None
    accum = recipe.train.grad_accum * recipe.train.batch_size
    return (f"train.batch_size: 1 with train.grad_accum: {accum}",
            _with(recipe, train={"batch_size": 1, "grad_accum": accum}), profile)


def _checkpointing(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    if recipe.train.gradient_checkpointing:
        return None
    return "train.gradient_checkpointing: true", _with(recipe, train={"gradient_checkpointing": True}), profile


def _four_bit(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    if env.backend != "cuda" or recipe.base_model.load_in_4bit:
        return None
    return "base_model.load_in_4bit: true", _with(recipe, base_model={"load_in_4bit": True}), profile


def _shorter_sequences(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    """The longest halved max_seq_length that fits (down to 256)."""
    seq = recipe.data.max_seq_length // 2
    candidate: Recipe | None = None
    while seq >= 256:
        candidate = _with(recipe, data={"max_seq_length": seq})
        if _estimate(candidate, profile, env) <= budget:
            break
        seq //= 2
    if candidate is None:
        return None
    return f"data.max_seq_length: {candidate.data.max_seq_length}", candidate, profile


def _smaller_profile(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    """The largest shipped profile smaller than this model that fits (else the smallest)."""
    smaller = sorted((p for p in builtin_profiles().values() if p.param_count() < profile.param_count()),
                     key=lambda p: -p.param_count())
    chosen: Change | None = None
    for candidate_profile in smaller:
        candidate = _with(recipe, base_model={"profile": candidate_profile.name, "name_or_path": None})
        chosen = (f"base_model.profile: {candidate_profile.name}", candidate, candidate_profile)
        if _estimate(candidate, candidate_profile, env) <= budget:
            break
    return chosen


def _estimate(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> int:
    return estimate_peak_memory(recipe, profile, backend=env.backend, bf16_supported=env.bf16_supported).total


def _with(recipe: Recipe, **sections: dict[str, Any]) -> Recipe:
    data = recipe.model_dump()
    for section, values in sections.items():
        data[section].update(values)
    return Recipe.model_validate(data)
