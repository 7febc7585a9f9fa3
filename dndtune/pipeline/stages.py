"""The stages of a run, in order. Each is ``run(ctx) -> result``: it reads what earlier stages left on
the :class:`~dndtune.pipeline.context.RunContext`, hands its own stage a typed input, and records
its section of ``run.json``.

Training and merging are skipped when their inputs (recipe, dataset, base model) are unchanged
since the version this run continues or follows; a new version shares that version's adapter and
merged weights by hard links (:func:`dndtune.atomic.link_tree`).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

from dndtune.atomic import link_tree
from dndtune.dataset.build import DatasetResult, build_dataset
from dndtune.env.doctor import check_run
from dndtune.env.environment import collect_environment
from dndtune.errors import DndtuneError
from dndtune.evaluate.export_gate import task_gate
from dndtune.evaluate.stage import EvaluateInput, EvaluateResult, Skipped, evaluate_run
from dndtune.events import EngineChosen, EngineNote, MergeCached, TrainCached
from dndtune.export.run import ExportResult, export_run
from dndtune.export.targets import target_from_recipe
from dndtune.models.compat import ChatTemplates, check_compat, choose_chat_templates
from dndtune.models.resolve import ResolvedModel, resolve_model
from dndtune.paths import cache_dir
from dndtune.pipeline.configs import dataset_config
from dndtune.pipeline.context import RunContext, Stage
from dndtune.pipeline.fingerprints import dataset_hash, merge_fingerprint, train_fingerprint
from dndtune.recipe.schema import Recipe
from dndtune.runs import RunLayout
from dndtune.train.engine import (
    EngineChoice,
    EngineFacts,
    activate_engine,
    select_engine,
    unsloth_imports_cleanly,
)
from dndtune.train.job import Hyperparameters, ModelSpec, TrainJob, TrainResult
from dndtune.train.load import LoraSpec
from dndtune.train.merge import merge_adapter, merged_dtype
from dndtune.units import format_size


def doctor_stage(ctx: RunContext) -> EngineChoice:
    """Pick the engine first: Unsloth must be imported before anything pulls in transformers."""
    recipe = ctx.recipe
    # One probe of the machine serves the engine choice and the doctor's checklist.
    env = collect_environment(recipe.output.dir)
    facts = EngineFacts.from_machine(env)
    import_ok: bool | None = None
    if recipe.train.engine != "trl" and facts.unsloth_installed and facts.backend != "mps":
        # A failed import can leave transformers half-patched, so it is tried in a child first.
        import_ok = unsloth_imports_cleanly()
    choice = select_engine(recipe.train.engine, load_in_4bit=recipe.base_model.load_in_4bit,
                           dtype=recipe.base_model.dtype, facts=facts, unsloth_import_ok=import_ok)
    for note in activate_engine(choice):
        ctx.events.emit(EngineNote(message=note))
    ctx.facts, ctx.engine = facts, choice
    ctx.events.emit(EngineChosen(message=choice.describe(), engine=choice.name, backend=choice.backend,
                                 dtype=choice.dtype, load_in_4bit=choice.load_in_4bit, reason=choice.reason))
    ctx.record["engine"] = asdict(choice)
    ctx.record["device"] = asdict(facts)
    # The environment doctor reports every check and raises on one that makes the run impossible.
    ctx.record["doctor"] = check_run(ctx.recipe, ctx.events, env=env).as_dict()
    return choice


def model_stage(ctx: RunContext) -> ResolvedModel:
    # Here, not at the top: the trainer module pulls in torch and transformers, which `--help` never needs.
    from dndtune.train.trainer import load_tokenizer

    resolved = resolve_model(ctx.recipe.base_model, events=ctx.events)
    problems = check_compat(resolved.path, resolved.profile)
    if problems:
        raise DndtuneError(f"{resolved.path} cannot be trained here: {'; '.join(problems)}")
    tokenizer = load_tokenizer(ModelSpec(resolved.path, None, None, ()))
    templates = choose_chat_templates(tokenizer, resolved.profile)
    tokenizer.chat_template = templates.inference
    ctx.model, ctx.templates, ctx.tokenizer = resolved, templates, tokenizer
    ctx.record["model"] = {"path": str(resolved.path), "source": resolved.source, "profile": resolved.profile.name,
                           "family": resolved.profile.family, "template_from_profile": templates.from_profile}
    return resolved


def dataset_stage(ctx: RunContext) -> DatasetResult:
    config = dataset_config(ctx.recipe, output_dir=ctx.layout.dataset, cache_dir=cache_dir())
    result = build_dataset(config, ctx.events, ctx.require("tokenizer"))
    ctx.dataset = result
    ctx.record["dataset"] = {"stats": result.stats.model_dump(mode="json"), "hash": dataset_hash(result),
                             "files": {k: str(v) for k, v in result.jsonl_paths.items()}}
    return result


def train_stage(ctx: RunContext) -> TrainResult:
    # Here, not at the top: torch and transformers (see model_stage).
    from dndtune.train.trainer import train_adapter

    job = _train_job(ctx)
    dataset: DatasetResult = ctx.require("dataset")
    model: ResolvedModel = ctx.require("model")
    templates: ChatTemplates = ctx.require("templates")
    engine: EngineChoice = ctx.require("engine")
    key = train_fingerprint(ctx.recipe, ctx.record.get("dataset", {}).get("hash"), templates.inference,
                            [engine.name, engine.dtype, engine.load_in_4bit], model.path)
    previous = ctx.previous.get("train", {})
    source = ctx.previous_layout or ctx.layout
    if (previous.get("fingerprint") == key and previous.get("status") == "completed"
            and (source.adapter / "adapter_config.json").is_file() and ctx.resume is not False):
        if source != ctx.layout:
            _reuse_training(source, ctx.layout)
        ctx.events.emit(TrainCached(
            message=f"training inputs unchanged since {source.name}: reusing its adapter",
            path=str(ctx.layout.adapter)))
        fields = {k: previous[k] for k in TrainResult.__dataclass_fields__ if k in previous and k != "history"}
        fields["adapter_dir"] = ctx.layout.adapter
        fields["checkpoint"] = None
        result = TrainResult(**fields)
    else:
        result = train_adapter(job, dataset.train, dataset.eval, ctx.events,
                               stop_event=ctx.stop_event)
    ctx.train = result
    ctx.record["train"] = {**result.as_dict(), "fingerprint": key}
    return result


def merge_stage(ctx: RunContext) -> Path:
    train = ctx.require("train")
    if train.adapter_dir is None:
        raise DndtuneError("training did not finish, so there is no adapter to merge",
                           fix="rerun the recipe to resume training")
    model: ResolvedModel = ctx.require("model")
    templates: ChatTemplates = ctx.require("templates")
    target = ctx.layout.merged
    dtype = merged_dtype(ctx.recipe.base_model.dtype)
    key = merge_fingerprint(model.path, train.adapter_dir, dtype, templates.inference)
    source = ctx.previous_layout or ctx.layout
    if ctx.previous.get("merge", {}).get("fingerprint") == key and (source.merged / "config.json").is_file():
        if source != ctx.layout:
            link_tree(source.merged, target)
        ctx.events.emit(MergeCached(message=f"merged model unchanged since {source.name}: {target}", path=str(target)))
    else:
        merge_adapter(model.path, train.adapter_dir, target, dtype=dtype, chat_template=templates.inference,
                      stop_tokens=model.profile.stop_tokens, events=ctx.events)
    ctx.merged = target
    ctx.record["merge"] = {"path": str(target), "dtype": dtype, "fingerprint": key}
    return target


def export_stage(ctx: RunContext) -> ExportResult:
    """``merged/`` -> the GGUF for the recipe's target (size limit, ladder, prefer, gate, fallbacks)."""
    target = target_from_recipe(ctx.recipe.target)
    result = export_run(ctx.layout, target, ctx.events, merged=ctx.require("merged"),
                        task_gate=task_gate(ctx.layout, target, ctx.recipe.evaluate))
    ctx.export = result
    ctx.record["export"] = result.as_dict()
    return result


def evaluate_stage(ctx: RunContext) -> EvaluateResult | Skipped:
    """The exported GGUF on the held-out split with the base model beside it; see ``dndtune.evaluate.stage``."""
    model: ResolvedModel = ctx.require("model")
    export: ExportResult | None = ctx.export
    previous = ctx.previous.get("evaluate")
    result = evaluate_run(EvaluateInput(
        layout=ctx.layout, section=ctx.recipe.evaluate,
        gguf=export.gguf if export is not None else None,
        gguf_sha256=ctx.record.get("export", {}).get("sha256"),
        base_model=model.path,
        base_template=ctx.templates.inference if ctx.templates is not None else model.profile.chat_template,
        previous=previous if isinstance(previous, dict) else {}, events=ctx.events))
    ctx.evaluation = result if isinstance(result, EvaluateResult) else None
    ctx.record["evaluate"] = result.as_dict()
    return result


def _reuse_training(source: RunLayout, target: RunLayout) -> None:
    """A new version whose training inputs match the last one's shares its adapter (hard links) and curve."""
    link_tree(source.adapter, target.adapter)
    for name in ("metrics", "loss_plot"):
        path: Path = getattr(source, name)
        if path.is_file():
            shutil.copy2(path, getattr(target, name))


def _train_job(ctx: RunContext) -> TrainJob:
    recipe = ctx.recipe
    model: ResolvedModel = ctx.require("model")
    templates: ChatTemplates = ctx.require("templates")
    targets = recipe.lora.target_modules
    modules = model.profile.lora_target_modules if targets == "profile" else tuple(targets)
    return TrainJob(
        model=ModelSpec(path=model.path, chat_template=templates.inference,
                        end_of_turn=model.profile.end_of_turn_token, target_modules=tuple(modules),
                        tool_format=model.profile.tool_format),
        lora=LoraSpec(r=recipe.lora.r, alpha=recipe.lora.alpha, dropout=recipe.lora.dropout,
                      target_modules=tuple(modules)),
        hparams=Hyperparameters.from_section(recipe.train),
        max_seq_length=recipe.data.max_seq_length,
        layout=ctx.layout,
        engine=ctx.require("engine"),
        resume=ctx.resume,
        continue_from=ctx.previous_layout.checkpoints
        if ctx.previous_layout is not None and ctx.previous_layout != ctx.layout else None,
    )


# --- what --dry-run says each stage will do ------------------------------------------------------


def _dataset_preview(recipe: Recipe) -> str:
    data = recipe.data
    copies = data.augment.copies
    augment = (f"{copies} augmented {'copy' if copies == 1 else 'copies'} each"
               if data.augment.enabled and copies else "no augmentation")
    return (f"parse {data.scenarios_dir}/, hold out {data.eval_fraction:.0%} of scenarios, {augment}, "
            f"max {data.max_seq_length} tokens")


def _export_preview(recipe: Recipe) -> str:
    target = recipe.target
    if target.prefer == "smallest":
        gate = target.gate
        turns = gate.max_turns or recipe.evaluate.max_turns
        choice = (f"the smallest that fits {format_size(target.size_limit)} with {', '.join(gate.scores)} within "
                  f"{gate.tolerance:g} of the f16 file on {f'{turns} ' if turns else 'all '}held-out DM turns")
    else:
        choice = f"first that fits {format_size(target.size_limit)}"
    fallbacks = [name for name, on in (("lower token embedding", target.embedding_fallback),
                                       ("layer pruning", target.prune.allowed)) if on]
    then = f"; if none fits: {', then '.join(fallbacks)}" if fallbacks else ""
    return f"GGUF ({', '.join(target.quant_ladder)}), {choice}{then}"


def _evaluate_preview(recipe: Recipe) -> str:
    section = recipe.evaluate
    if not section.enabled:
        return "skipped (evaluate.enabled is false)"
    turns = "every held-out DM turn" if section.max_turns is None else f"the first {section.max_turns} held-out turns"
    base = ", base model beside it" if section.baseline else ""
    return f"the GGUF on {turns}{base}, against the goals"


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("doctor", doctor_stage, "check the machine and choose the training engine"),
    Stage("model", model_stage, "resolve the base model and its chat template", needs=("doctor",)),
    Stage("dataset", dataset_stage, "turn scenarios into train/eval conversations", needs=("model",),
          preview=_dataset_preview),
    Stage("train", train_stage, "fine-tune LoRA adapters with checkpoints and held-out evaluation",
          needs=("doctor", "model", "dataset")),
    Stage("merge", merge_stage, "merge the adapter into the base weights", needs=("model", "train")),
    Stage("export", export_stage, "convert the merged model to GGUF", needs=("merge",), preview=_export_preview),
    Stage("evaluate", evaluate_stage, "score the GGUF and the base model against the goals", needs=("export",),
          preview=_evaluate_preview),
)
