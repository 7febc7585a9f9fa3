"""The one way to run dndtune: ``build_pipeline(recipe, events) -> Pipeline``, then ``Pipeline.run()``.

The CLI, the TUI and the tests all build runs through :func:`build_pipeline`. A pipeline is an
ordered registry of stages; each stage is a plain function ``run(ctx) -> result`` that reads
what earlier stages left on the :class:`RunContext` and reports through ``ctx.events``:

``doctor``  pick the training engine (and import Unsloth first when it is chosen), check the machine
``model``   resolve the base model, check it is supported, choose its chat template
``dataset`` scenarios -> train/eval conversations
``train``   LoRA fine-tuning with checkpoints, resume, eval and early stopping
``merge``   adapter + base -> ``merged/`` (safetensors + tokenizer with chat template)
``export``  ``merged/`` -> GGUF for the target, provided by ``dndtune.export.run.export_run(ctx)``
``evaluate`` the GGUF and the base model on the held-out split, against the goals (``dndtune.evaluate.stage``)

Everything a run writes lives in ``<output.dir>/runs/<run_name>/`` and ``run.json`` there is
rewritten after every stage, so a crash or a stop still leaves an accurate record. Training and
merging are skipped when their inputs (recipe, dataset, base model) are unchanged since the
last completed run: rerunning a finished recipe says so in seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import platform
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dndtune import __version__
from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import Event, EventSink
from dndtune.train.layout import RunLayout

if TYPE_CHECKING:
    from dndtune.dataset.build import DatasetResult
    from dndtune.models.compat import ChatTemplates
    from dndtune.models.resolve import ResolvedModel
    from dndtune.recipe.schema import Recipe
    from dndtune.train.engine import EngineChoice, EngineFacts
    from dndtune.train.trainer import TrainResult

PIPELINE = "pipeline"
RunStatus = Literal["running", "completed", "stopped", "failed"]
PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "unsloth", "unsloth_zoo",
            "bitsandbytes", "tokenizers", "gguf")


@dataclass
class RunContext:
    """Shared state of one run: the inputs, and each stage's result for the stages after it."""

    recipe: Recipe
    layout: RunLayout
    events: EventSink
    stop_event: threading.Event
    resume: bool | None = None
    facts: EngineFacts | None = None
    engine: EngineChoice | None = None
    model: ResolvedModel | None = None
    templates: ChatTemplates | None = None
    tokenizer: Any = None
    dataset: DatasetResult | None = None
    train: TrainResult | None = None
    merged: Path | None = None
    export: Any = None
    evaluation: Any = None
    """``dndtune.evaluate.stage.EvaluateResult`` when the evaluate stage scored the model."""
    record: dict[str, Any] = field(default_factory=dict)
    """What ``run.json`` holds; stages add their sections."""
    previous: dict[str, Any] = field(default_factory=dict)
    """``run.json`` of the last run in this folder, read before this run overwrites it."""

    def require(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise DndtuneError(f"the {name} stage has not run in this pipeline")
        return value


StageRun = Callable[[RunContext], Any]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageRun
    description: str
    needs: tuple[str, ...] = ()


@dataclass
class PipelineResult:
    status: RunStatus
    stages: dict[str, dict[str, Any]]
    layout: RunLayout
    context: RunContext

    @property
    def adapter(self) -> Path | None:
        train = self.context.train
        return train.adapter_dir if train is not None else None

    @property
    def merged(self) -> Path | None:
        return self.context.merged


# --- stages ----------------------------------------------------------------------------------


def doctor_stage(ctx: RunContext) -> EngineChoice:
    """Pick the engine first: Unsloth must be imported before anything pulls in transformers."""
    from dndtune.train.engine import activate_engine, probe_facts, select_engine, unsloth_imports_cleanly

    recipe = ctx.recipe
    facts = probe_facts()
    import_ok: bool | None = None
    if recipe.train.engine != "trl" and facts.unsloth_installed and facts.backend != "mps":
        # A failed import can leave transformers half-patched, so it is tried in a child first.
        import_ok = unsloth_imports_cleanly()
    choice = select_engine(recipe.train.engine, load_in_4bit=recipe.base_model.load_in_4bit,
                           dtype=recipe.base_model.dtype, facts=facts, unsloth_import_ok=import_ok)
    for note in activate_engine(choice):
        ctx.events.emit(Event("doctor", "doctor.engine.note", note, level="debug"))
    ctx.facts, ctx.engine = facts, choice
    ctx.events.emit(Event("doctor", "doctor.engine", choice.describe(), data=asdict(choice)))
    ctx.record["engine"] = asdict(choice)
    ctx.record["device"] = asdict(facts)
    _run_environment_checks(ctx)
    return choice


def _run_environment_checks(ctx: RunContext) -> None:
    """The environment doctor: reports every check, raises on one that makes the run impossible."""
    from dndtune.env.doctor import check_run

    report = check_run(ctx.recipe, ctx.events)
    ctx.record["doctor"] = report.as_dict()


def model_stage(ctx: RunContext) -> ResolvedModel:
    from dndtune.models.compat import check_compat, choose_chat_templates
    from dndtune.models.resolve import resolve_model
    from dndtune.train.trainer import ModelSpec, load_tokenizer

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
    from dndtune.dataset.build import build_dataset
    from dndtune.dataset.config import DatasetConfig
    from dndtune.paths import cache_dir

    config = DatasetConfig.from_recipe(ctx.recipe, output_dir=ctx.layout.root / "dataset",
                                       cache_dir=cache_dir())
    result = build_dataset(config, ctx.events, ctx.require("tokenizer"))
    ctx.dataset = result
    ctx.record["dataset"] = {"stats": result.stats.model_dump(mode="json"), "hash": dataset_hash(result),
                             "files": {k: str(v) for k, v in result.jsonl_paths.items()}}
    return result


def train_stage(ctx: RunContext) -> TrainResult:
    from dndtune.train.trainer import TrainResult, train_adapter

    job = _train_job(ctx)
    dataset: DatasetResult = ctx.require("dataset")
    key = _train_fingerprint(ctx)
    previous = ctx.previous.get("train", {})
    if (previous.get("fingerprint") == key and previous.get("status") == "completed"
            and (ctx.layout.adapter / "adapter_config.json").is_file() and ctx.resume is not False):
        ctx.events.emit(Event("train", "train.cached",
                              f"nothing changed since the last run: reusing the adapter in {ctx.layout.adapter}",
                              data={"path": str(ctx.layout.adapter)}))
        fields = {k: previous[k] for k in TrainResult.__dataclass_fields__ if k in previous and k != "history"}
        fields["adapter_dir"] = ctx.layout.adapter
        fields["checkpoint"] = None
        result = TrainResult(**fields)
    else:
        result = train_adapter(job, list(dataset.train), list(dataset.eval), ctx.events,
                               stop_event=ctx.stop_event)
    ctx.train = result
    ctx.record["train"] = {**result.as_dict(), "fingerprint": key}
    return result


def merge_stage(ctx: RunContext) -> Path:
    from dndtune.train.merge import merge_adapter, merged_dtype

    train: TrainResult = ctx.require("train")
    if train.adapter_dir is None:
        raise DndtuneError("training did not finish, so there is no adapter to merge",
                           fix="rerun the recipe to resume training")
    model: ResolvedModel = ctx.require("model")
    templates: ChatTemplates = ctx.require("templates")
    target = ctx.layout.merged
    dtype = merged_dtype(ctx.recipe.base_model.dtype)
    key = _merge_fingerprint(model.path, train.adapter_dir, dtype, templates.inference)
    if ctx.previous.get("merge", {}).get("fingerprint") == key and (target / "config.json").is_file():
        ctx.events.emit(Event("merge", "merge.cached", f"merged model unchanged: {target}", data={"path": str(target)}))
    else:
        merge_adapter(model.path, train.adapter_dir, target, dtype=dtype, chat_template=templates.inference,
                      stop_tokens=model.profile.stop_tokens, events=ctx.events)
    ctx.merged = target
    ctx.record["merge"] = {"path": str(target), "dtype": dtype, "fingerprint": key}
    return target


def export_stage(ctx: RunContext) -> Any:
    """GGUF export, implemented by ``dndtune.export.run.export_run(ctx) -> result``.

    The export reads ``ctx.merged`` (the merged HF folder), ``ctx.recipe.target`` (size limit and
    quant ladder), ``ctx.model.profile`` and ``ctx.layout.root``; it reports through
    ``ctx.events`` and returns a result with an ``as_dict()`` for ``run.json``.
    """
    if importlib.util.find_spec("dndtune.export.run") is None:
        ctx.events.emit(Event("export", "export.unavailable",
                              "GGUF export is not part of this dndtune build; the merged model is the output",
                              level="warning"))
        return None
    module = importlib.import_module("dndtune.export.run")
    result = module.export_run(ctx)
    ctx.export = result
    ctx.record["export"] = result.as_dict() if hasattr(result, "as_dict") else result
    return result


def evaluate_stage(ctx: RunContext) -> Any:
    """The exported GGUF on the held-out split with the base model beside it; see ``dndtune.evaluate.stage``."""
    from dndtune.evaluate.stage import evaluate_run

    result = evaluate_run(ctx)
    ctx.evaluation = result
    return result


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("doctor", doctor_stage, "check the machine and choose the training engine"),
    Stage("model", model_stage, "resolve the base model and its chat template", needs=("doctor",)),
    Stage("dataset", dataset_stage, "turn scenarios into train/eval conversations", needs=("model",)),
    Stage("train", train_stage, "fine-tune LoRA adapters", needs=("doctor", "model", "dataset")),
    Stage("merge", merge_stage, "merge the adapter into the base weights", needs=("model", "train")),
    Stage("export", export_stage, "convert the merged model to GGUF", needs=("merge",)),
    Stage("evaluate", evaluate_stage, "score the GGUF and the base model against the goals", needs=("export",)),
)


# --- the pipeline ----------------------------------------------------------------------------


class Pipeline:
    """Runs stages in order, keeps ``run.json`` current, and stops cleanly when asked."""

    def __init__(self, context: RunContext, stages: Sequence[Stage] = DEFAULT_STAGES) -> None:
        self.context = context
        self.stages = tuple(stages)
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate stage names: {names}")

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def plan(self, stages: Sequence[str] | None = None) -> list[Stage]:
        """The stages ``run(stages)`` executes: those named plus what they need, in pipeline order."""
        by_name = {s.name: s for s in self.stages}
        wanted = list(stages) if stages is not None else list(by_name)
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise DndtuneError(f"unknown stage(s): {', '.join(unknown)}", fix=f"stages are {', '.join(by_name)}")
        selected: set[str] = set()
        pending = list(wanted)
        while pending:
            name = pending.pop()
            if name in selected:
                continue
            selected.add(name)
            pending.extend(n for n in by_name[name].needs if n in by_name)
        return [s for s in self.stages if s.name in selected]

    def run(self, stages: Sequence[str] | None = None) -> PipelineResult:
        ctx = self.context
        ctx.layout.root.mkdir(parents=True, exist_ok=True)
        ctx.previous = _read_record(ctx.layout)
        self._start_record()
        report: dict[str, dict[str, Any]] = {}
        status: RunStatus = "completed"
        for stage in self.plan(stages):
            if ctx.stop_event.is_set():
                status = "stopped"
                break
            ctx.events.emit(Event(stage.name, "pipeline.stage", stage.description,
                                  data={"stage": stage.name, "state": "start"}))
            started = time.perf_counter()
            try:
                stage.run(ctx)
            except BaseException as exc:
                seconds = time.perf_counter() - started
                report[stage.name] = {"status": "failed", "seconds": seconds}
                interrupted = isinstance(exc, KeyboardInterrupt)
                ctx.record["error"] = "interrupted" if interrupted else str(exc)
                self._save_record("stopped" if interrupted else "failed", report)
                raise
            seconds = time.perf_counter() - started
            stopped = ctx.train is not None and ctx.train.status == "stopped" and stage.name == "train"
            report[stage.name] = {"status": "stopped" if stopped else "done", "seconds": seconds}
            ctx.events.emit(Event(stage.name, "pipeline.stage", f"{stage.name} done in {seconds:.1f} s",
                                  level="debug", data={"stage": stage.name, "state": "done", "seconds": seconds}))
            self._save_record("running", report)
            if stopped:
                status = "stopped"
                break
        self._save_record(status, report)
        ctx.events.emit(Event(PIPELINE, "pipeline.done", f"run {status}: {ctx.layout.root}",
                              data={"status": status, "run_dir": str(ctx.layout.root)}))
        return PipelineResult(status=status, stages=report, layout=ctx.layout, context=ctx)

    def _start_record(self) -> None:
        ctx = self.context
        from dndtune.recipe.loader import dump_recipe

        write_text_atomic(ctx.layout.recipe, dump_recipe(ctx.recipe))
        ctx.record.update({
            "run_name": ctx.recipe.output.run_name,
            "run_dir": str(ctx.layout.root),
            "recipe_path": str(ctx.recipe.source_path) if ctx.recipe.source_path else None,
            "recipe": ctx.recipe.model_dump(mode="json"),
            "seed": ctx.recipe.train.seed,
            "started_at": _now(),
            "dndtune": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": package_versions(),
            "git": git_state(Path(__file__).resolve().parent.parent),
        })

    def _save_record(self, status: RunStatus, report: dict[str, dict[str, Any]]) -> None:
        ctx = self.context
        ctx.record["status"] = status
        ctx.record["stages"] = report
        ctx.record["updated_at"] = _now()
        write_text_atomic(ctx.layout.run_json, json.dumps(ctx.record, indent=2, default=str) + "\n")


def build_pipeline(recipe: Recipe, events: EventSink, *, stop_event: threading.Event | None = None,
                   resume: bool | None = None, stages: Sequence[Stage] | None = None) -> Pipeline:
    """The pipeline for ``recipe``; ``stop_event`` ends training after the current step, with a checkpoint.

    ``resume``: ``None`` continues an interrupted run of the same recipe automatically,
    ``True`` insists on resuming, ``False`` discards earlier checkpoints and starts over.
    """
    layout = RunLayout.under(recipe.output.dir, recipe.output.run_name)
    context = RunContext(recipe=recipe, layout=layout, events=events, stop_event=stop_event or threading.Event(),
                         resume=resume)
    return Pipeline(context, DEFAULT_STAGES if stages is None else stages)


# --- helpers ---------------------------------------------------------------------------------


def _train_job(ctx: RunContext) -> Any:
    from dndtune.train.load import LoraSpec
    from dndtune.train.trainer import Hyperparameters, ModelSpec, TrainJob

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
    )


def dataset_hash(result: DatasetResult) -> str:
    digest = hashlib.sha256()
    for name in sorted(result.jsonl_paths):
        digest.update(name.encode())
        digest.update(result.jsonl_paths[name].read_bytes())
    return digest.hexdigest()


def _train_fingerprint(ctx: RunContext) -> str:
    """Everything a finished adapter depends on; equal fingerprints mean retraining would redo the same work."""
    recipe = ctx.recipe
    model: ResolvedModel = ctx.require("model")
    templates: ChatTemplates = ctx.require("templates")
    engine: EngineChoice = ctx.require("engine")
    parts = {
        "recipe": recipe.model_dump(mode="json", include={"base_model", "data", "lora", "train"}),
        "dataset": ctx.record.get("dataset", {}).get("hash"),
        "template": hashlib.sha256(templates.inference.encode()).hexdigest(),
        "engine": [engine.name, engine.dtype, engine.load_in_4bit],
        "dndtune": __version__,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    config = model.path / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    return digest.hexdigest()


def _merge_fingerprint(base: Path, adapter: Path, dtype: str, template: str) -> str:
    digest = hashlib.sha256(f"{dtype}|{__version__}|".encode())
    digest.update(template.encode())
    for path in (base / "config.json", *sorted(adapter.glob("adapter_*"))):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_record(layout: RunLayout) -> dict[str, Any]:
    try:
        data = json.loads(layout.run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any] | None:
    """Commit and dirtiness of the dndtune checkout (``None`` for an installed wheel)."""
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

