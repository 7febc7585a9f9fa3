"""What a run will do, before it does it: ``dndtune --recipe X --dry-run``.

:func:`build_plan` returns the plan as data (for the TUI and tests); :func:`describe_plan`
renders the resolved recipe and the plan as two YAML documents a person can read.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from dndtune.env.checks import check_recipe
from dndtune.env.environment import EnvReport, collect_environment
from dndtune.env.memory import estimate_peak_memory, target_modules
from dndtune.env.memory_fit import describe_estimate
from dndtune.env.report import worst
from dndtune.errors import DndtuneError
from dndtune.gguf.quant_types import QUANT_TYPES
from dndtune.models.profiles import ModelProfile
from dndtune.models.resolve import locate_model, model_id, profile_for_recipe
from dndtune.pipeline.stages import DEFAULT_STAGES
from dndtune.recipe.loader import dump_recipe
from dndtune.recipe.schema import Recipe
from dndtune.units import format_size


def predict_gguf_size(params: int, quant: str) -> int:
    return int(params * QUANT_TYPES[quant].bits_per_weight / 8)


def estimate_steps(recipe: Recipe, n_examples: int | None) -> int | None:
    """Optimizer steps of the run: ``max_steps``, else epochs x ceil(batches / grad_accum)."""
    if recipe.train.max_steps is not None:
        return recipe.train.max_steps
    if n_examples is None:
        return None
    batches = math.ceil(n_examples / recipe.train.batch_size)
    per_epoch = max(1, math.ceil(batches / recipe.train.grad_accum))
    return max(1, math.ceil(recipe.train.epochs * per_epoch))


def build_plan(recipe: Recipe, env: EnvReport, *, n_examples: int | None = None,
               profile: ModelProfile | None = None) -> dict[str, Any]:
    """The plan as plain data: stages, memory, steps, size preview and the doctor's verdict."""
    if profile is None:
        try:
            profile = profile_for_recipe(recipe.base_model)
        except DndtuneError:
            profile = None
    checks = check_recipe(recipe, env, profile=profile)
    location = None
    try:
        location = locate_model(recipe.base_model)
    except DndtuneError:
        location = None

    model: dict[str, Any] = {"id": model_id(recipe.base_model),
                             "from": location.description if location else "not available here"}
    train: dict[str, Any] = {
        "engine": recipe.train.engine,
        "lora": f"r={recipe.lora.r} alpha={recipe.lora.alpha} dropout={recipe.lora.dropout}",
        "effective_batch": recipe.effective_batch(),
    }
    plan: dict[str, Any] = {"model": model, "train": train}
    if profile is not None:
        targets = target_modules(recipe, profile)
        params = profile.param_count()
        lora_params = profile.dims.lora_params(recipe.lora.r, targets)
        model.update({"profile": profile.name, "family": profile.family, "parameters": params})
        train.update({"target_modules": list(targets), "trainable_parameters": lora_params,
                      "trainable_share": f"{lora_params / params:.2%}"})
        estimate = estimate_peak_memory(recipe, profile, backend=env.backend, bf16_supported=env.bf16_supported)
        train["dtype"] = estimate.dtype
        available = env.available_memory
        plan["memory"] = {
            "estimated_peak": format_size(estimate.total),
            "available": f"{format_size(available)} {env.memory_label} ({env.backend})",
            "share": f"{estimate.total / available:.0%}" if available else "n/a",
            "breakdown": describe_estimate(estimate),
        }
        plan["export"] = _export_preview(recipe, params)
    steps = estimate_steps(recipe, n_examples)
    plan["steps"] = {
        "training_examples": n_examples if n_examples is not None else "known after the dataset stage",
        "optimizer_steps": steps if steps is not None else "known after the dataset stage",
        "basis": "train.max_steps" if recipe.train.max_steps is not None else
        f"{recipe.train.epochs:g} epochs x ceil(examples / {recipe.train.batch_size}) / {recipe.train.grad_accum}",
        "checkpoint_every": recipe.train.save_steps,
        "eval_every": recipe.train.eval_steps,
    }
    plan["stages"] = _stages(recipe)
    plan["doctor"] = {"verdict": worst(checks),
                      "checks": [f"{c.status}: {c.name}: {c.message}" + (f" (fix: {c.fix})" if c.fix else "")
                                 for c in checks]}
    return plan


def _stages(recipe: Recipe) -> list[str]:
    return [f"{stage.name}: {stage.describe(recipe)}" for stage in DEFAULT_STAGES]


def _export_preview(recipe: Recipe, params: int) -> dict[str, Any]:
    sizes = {q: predict_gguf_size(params, q) for q in recipe.target.quant_ladder}
    fitting = next((q for q, size in sizes.items() if size <= recipe.target.size_limit), None)
    return {
        "size_limit": format_size(recipe.target.size_limit),
        "predicted_sizes": {q: f"~{format_size(size)}" for q, size in sizes.items()},
        "expected_choice": fitting or "none fits: raise target.size_limit or pick a smaller profile",
    }


def describe_plan(recipe: Recipe, env: EnvReport | None = None, n_examples: int | None = None, *,
                  profile: ModelProfile | None = None) -> str:
    """The fully resolved recipe and the plan, as two YAML documents (what ``--dry-run`` prints).

    ``env`` defaults to this machine (:func:`collect_environment` at the recipe's output dir).
    """
    return plan_report(recipe, env, n_examples, profile=profile)[0]


def plan_report(recipe: Recipe, env: EnvReport | None = None, n_examples: int | None = None, *,
                profile: ModelProfile | None = None) -> tuple[str, dict[str, Any]]:
    """:func:`describe_plan`'s text and the plan it renders: ``--dry-run`` prints one, exits on the other's verdict."""
    env = env or collect_environment(recipe.output.dir)
    source = recipe.source_path
    where = f" ({_relative(source)})" if source else ""
    plan = build_plan(recipe, env, n_examples=n_examples, profile=profile)
    text = (f"# Resolved recipe{where}\n{dump_recipe(recipe)}---\n# Plan\n"
            + yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=110))
    return text, plan


def failing_checks(plan: dict[str, Any]) -> list[str]:
    """The doctor lines of a plan whose verdict is ``fail``, without their ``fail: `` prefix."""
    if plan["doctor"]["verdict"] != "fail":
        return []
    return [line.removeprefix("fail: ") for line in plan["doctor"]["checks"] if line.startswith("fail: ")]


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
