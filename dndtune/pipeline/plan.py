"""What a run will do, before it does it: ``dndtune --recipe X --dry-run``.

:func:`build_plan` returns the plan as data (for the TUI and tests); :func:`describe_plan`
renders the resolved recipe and the plan as two YAML documents a person can read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dndtune.env.checks import check_recipe
from dndtune.env.environment import EnvReport, collect_environment
from dndtune.env.memory import estimate_peak_memory, target_modules
from dndtune.env.memory_fit import describe_estimate
from dndtune.env.report import worst
from dndtune.errors import DndtuneError
from dndtune.gguf.quant_types import preview_size
from dndtune.models.profiles import ModelProfile
from dndtune.models.resolve import locate_model, model_id, profile_for_recipe
from dndtune.pipeline.fingerprints import TRAINING_SECTIONS
from dndtune.pipeline.inputs import RunInputs, run_inputs
from dndtune.pipeline.stages import DEFAULT_STAGES
from dndtune.pipeline.versions import VersionChoice, choose_version
from dndtune.recipe.loader import dump_recipe
from dndtune.recipe.schema import Recipe
from dndtune.registry import Registry, RegistryState
from dndtune.runs import RunFamily
from dndtune.train.resume import latest_checkpoint
from dndtune.units import format_size


def predict_gguf_size(params: int, quant: str, profile: ModelProfile | None = None) -> int:
    """A rung's size before any GGUF exists; with ``profile``, the token embedding follows llama.cpp's rule."""
    if profile is None:
        return preview_size(params, quant)
    dims = profile.dims
    return preview_size(params, quant, embedding_params=dims.vocab_size * dims.hidden_size, row=dims.hidden_size)


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
        plan["export"] = _export_preview(recipe, params, profile)
    steps = estimate_steps(recipe, n_examples)
    plan["steps"] = {
        "training_examples": n_examples if n_examples is not None else "known after the dataset stage",
        "optimizer_steps": steps if steps is not None else "known after the dataset stage",
        "basis": "train.max_steps" if recipe.train.max_steps is not None else
        f"{recipe.train.epochs:g} epochs x ceil(examples / {recipe.train.batch_size}) / {recipe.train.grad_accum}",
        "checkpoint_every": recipe.train.save_steps,
        "eval_every": recipe.train.eval_steps,
    }
    plan.update(_stages(recipe))
    plan["doctor"] = {"verdict": worst(checks),
                      "checks": [f"{c.status}: {c.name}: {c.message}" + (f" (fix: {c.fix})" if c.fix else "")
                                 for c in checks]}
    return plan


@dataclass(frozen=True)
class VersionPreview:
    """What a run of the recipe would do with its versions, read without taking the run's lock."""

    family: RunFamily
    choice: VersionChoice
    inputs: RunInputs

    def describe(self) -> str:
        return self.choice.describe(self.family)

    def actions(self) -> dict[str, str]:
        return stage_actions(self.choice, self.inputs)


def preview_version(recipe: Recipe, *, resume: bool | None = None,
                    stages: Sequence[str] | None = None) -> VersionPreview:
    """The version a run of ``recipe`` (``stages``, default all) would write now (``--dry-run``, the Train screen)."""
    family = RunFamily.under(recipe.output.dir, recipe.output.run_name)
    inputs = run_inputs(recipe)
    try:
        state: RegistryState | None = Registry(recipe.output.dir).read()
    except DndtuneError:
        state = None  # a damaged registry might hold any version: the run would write a new one

    def frozen(name: str) -> bool:
        return state is None or state.is_frozen(name)

    names = list(stages) if stages is not None else [s.name for s in DEFAULT_STAGES]
    choice = choose_version(family, inputs, resume=resume, stages=names, frozen=frozen)
    return VersionPreview(family, choice, inputs)


def _stages(recipe: Recipe) -> dict[str, Any]:
    """Which version the run would write, and per stage: run or reuse, and why."""
    preview = preview_version(recipe)
    actions = preview.actions()
    return {"version": preview.describe(),
            "stages": [f"{stage.name}: {actions[stage.name]}; {stage.describe(recipe)}" for stage in DEFAULT_STAGES]}


_MORE_STEPS = ("train.max_steps:", "train.epochs:")


def stage_actions(choice: VersionChoice, inputs: RunInputs) -> dict[str, str]:
    """``run``/``reuse``/``resume`` with the reason, for each default stage, as ``--dry-run`` shows them."""
    actions = {"doctor": "run (checks this machine)", "model": "run (resolves the base model)",
               "dataset": "run (unchanged scenario files come from the parse cache)"}
    later = ("train", "merge", "export", "evaluate")
    if choice.reason == "unchanged":
        return {name: f"reuse (nothing changed since {choice.layout.name})" for name in (*actions, *later)}
    record = choice.layout.read_record()
    report = record.get("stages") if isinstance(record.get("stages"), dict) else {}
    assert isinstance(report, dict)
    if choice.reason in ("resume", "complete"):
        for name in later:
            done = isinstance(report.get(name), dict) and report[name].get("status") == "done"
            actions[name] = f"reuse (done in {choice.layout.name})" if done else "run"
        checkpoint = latest_checkpoint(choice.layout.checkpoints)
        if actions["train"] == "run" and checkpoint is not None:
            actions["train"] = f"resume from {choice.layout.name}/{checkpoint.relative_to(choice.layout.root)}"
        return actions
    why = choice.changes.summary() if choice.changes is not None else "first version"
    if choice.reason == "first":
        return {**actions, **{name: "run (first version)" for name in later}}
    if choice.reason == "fresh":
        return {**actions, **{name: "run (--no-resume)" for name in later}}
    previous = choice.previous
    old = RunInputs.from_record(previous.read_record().get("inputs")) if previous is not None else None
    new_version = f"run (new version: {why})"
    actions.update({name: new_version for name in later})
    if previous is not None and old is not None and _same_training(old, inputs):
        actions["train"] = f"reuse (the adapter of {previous.name}: training inputs unchanged)"
        actions["merge"] = f"reuse (the merged model of {previous.name})"
    elif previous is not None and choice.changes is not None and _only_more_steps(choice):
        checkpoint = latest_checkpoint(previous.checkpoints)
        if checkpoint is not None:
            actions["train"] = f"continue from {previous.name}/{checkpoint.relative_to(previous.root)} ({why})"
    return actions


def _same_training(old: RunInputs, new: RunInputs) -> bool:
    return (old.scenarios == new.scenarios and old.base_model == new.base_model and old.dndtune == new.dndtune
            and all(old.recipe.get(k) == new.recipe.get(k) for k in TRAINING_SECTIONS))


def _only_more_steps(choice: VersionChoice) -> bool:
    changes = choice.changes
    assert changes is not None
    return (not (changes.added or changes.edited or changes.removed or changes.base_model or changes.dndtune)
            and bool(changes.recipe) and all(line.startswith(_MORE_STEPS) for line in changes.recipe))


def _export_preview(recipe: Recipe, params: int, profile: ModelProfile) -> dict[str, Any]:
    sizes = {q: predict_gguf_size(params, q, profile) for q in recipe.target.quant_ladder}
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
