"""The training stage: tokenized conversations in, a LoRA adapter (and checkpoints) out.

Imports transformers/TRL at module level: the pipeline imports this module only after
:func:`dndtune.train.engine.activate_engine`, so Unsloth (when chosen) patches them first.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError
from dndtune.events import (
    AdapterSaved,
    EarlyStopped,
    EngineLog,
    EventSink,
    LabelsCounted,
    LabelsDropped,
    LossPlotted,
    ModelLoaded,
    NoEvalSplit,
    TrainEngine,
    TrainStopped,
    WeightsUnsupported,
)
from dndtune.train.allocator import ReleaseFreedMemory, can_release_freed_memory
from dndtune.train.callbacks import EventCallback
from dndtune.train.collate import LabelCheckingCollator
from dndtune.train.job import ModelSpec, TrainJob, TrainResult, require_reporter
from dndtune.train.load import load_for_training
from dndtune.train.loss import supports_masked_loss
from dndtune.train.plot import write_loss_plot
from dndtune.train.resume import adopt_checkpoint, checkpoint_step, decide_resume, write_key
from dndtune.train.sft import sft_trainer_class
from dndtune.train.tokenize import (
    ChatRenderer,
    Emphasis,
    LabelStats,
    TokenizedConversation,
    require_trainable,
    tokenize_conversations,
)

STAGE = "train"


def load_tokenizer(spec: ModelSpec) -> Any:
    """The base model's tokenizer with the profile's chat template and a pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec.path)
    if spec.chat_template is not None:
        tokenizer.chat_template = spec.chat_template
    if tokenizer.pad_token is None:
        # Padding positions are masked out of attention and loss, so any existing token serves.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tokenize_split(renderer: ChatRenderer, examples: Sequence[Mapping[str, Any]], max_length: int,
                   split: str, events: EventSink, *,
                   emphasis: Emphasis | None = None) -> tuple[list[TokenizedConversation], LabelStats]:
    items, stats = tokenize_conversations(renderer, examples, max_length=max_length, emphasis=emphasis)
    share = 100.0 * stats.trained_tokens / stats.tokens if stats.tokens else 0.0
    events.emit(LabelsCounted(message=f"{split}: {stats.kept} conversations, {stats.tokens} tokens, "
                              f"{stats.trained_tokens} trained ({share:.0f}% assistant)",
                              split=split, conversations=stats.conversations, kept=stats.kept,
                              truncated=stats.truncated, dropped_no_labels=stats.dropped_no_labels,
                              tokens=stats.tokens, trained_tokens=stats.trained_tokens, longest=stats.longest,
                              shortest_dropped_prompt=stats.shortest_dropped_prompt))
    if stats.dropped_no_labels:
        events.emit(LabelsDropped(
            message=f"{split}: {stats.dropped_no_labels} conversation(s) have no assistant token within "
                    f"data.max_seq_length={max_length} and are left out",
            split=split, dropped=stats.dropped_no_labels))
    return items, stats


def resume_key(job: TrainJob, train: Sequence[TokenizedConversation],
               evaluation: Sequence[TokenizedConversation]) -> str:
    """Hash of what makes a checkpoint's optimizer state valid (see :mod:`dndtune.train.resume`)."""
    digest = hashlib.sha256()
    config = job.model.path / "config.json"
    digest.update(config.read_bytes() if config.is_file() else str(job.model.path).encode())
    settings = {
        "lora": asdict(job.lora), "engine": job.engine.name, "dtype": job.engine.dtype,
        "4bit": job.engine.load_in_4bit, "max_seq_length": job.max_seq_length,
        "hparams": {k: v for k, v in asdict(job.hparams).items()
                    if k not in ("epochs", "max_steps", "save_steps", "eval_steps", "logging_steps",
                                 "save_total_limit", "early_stopping_patience", "report_to")
                    # The plain loss keeps the key it had before the weight existed, so old checkpoints resume.
                    and not (k == "decision_loss_weight" and v == 1.0)},
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for split in (train, evaluation):
        digest.update(b"|split|")
        for item in split:
            digest.update(json.dumps([item.input_ids, item.labels]).encode())
    return digest.hexdigest()


def _dataset(items: Sequence[TokenizedConversation]) -> Any:
    from datasets import Dataset

    columns: dict[str, list[Any]] = {"input_ids": [i.input_ids for i in items], "labels": [i.labels for i in items]}
    if any(i.weights is not None for i in items):
        columns["loss_weights"] = [i.weights if i.weights is not None else [1.0] * len(i.labels) for i in items]
    return Dataset.from_dict(columns)


def emphasis_for(job: TrainJob) -> Emphasis | None:
    """The train split's decision-token weighting, when the recipe sets one and the call format is known."""
    weight = job.hparams.decision_loss_weight
    fmt = job.model.tool_format
    if weight == 1.0 or fmt is None:
        return None
    return Emphasis(call_open=fmt.call_open.strip(), call_close=fmt.call_close.strip(),
                    end_of_turn=job.model.end_of_turn, weight=weight)


def _copy_metrics(source: Path, target: Path) -> None:
    """A version continuing another's checkpoint starts its curve with the steps that led there."""
    if source.is_file() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@contextlib.contextmanager
def _stdout_to_events(events: EventSink) -> Iterator[None]:
    """Unsloth prints status lines; the library's faces decide what reaches the terminal."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                events.emit(EngineLog(message=line.strip()))


def _sft_config(job: TrainJob, has_eval: bool, early_stopping: bool) -> Any:
    from trl.trainer.sft_config import SFTConfig

    hp = job.hparams
    choice = job.engine
    config: Any = SFTConfig(
        output_dir=str(job.layout.checkpoints),
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps if hp.max_steps is not None else -1,
        learning_rate=hp.lr,
        lr_scheduler_type=hp.lr_scheduler,
        # transformers reads a value below 1 as a fraction of the total steps.
        warmup_steps=hp.warmup_ratio,
        weight_decay=hp.weight_decay,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        gradient_accumulation_steps=hp.grad_accum,
        seed=hp.seed,
        data_seed=hp.seed,
        logging_strategy="steps",
        logging_steps=hp.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=hp.save_steps,
        save_total_limit=hp.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=hp.eval_steps if has_eval else None,
        load_best_model_at_end=early_stopping,
        metric_for_best_model="eval_loss" if early_stopping else None,
        greater_is_better=False if early_stopping else None,
        # Unsloth applies its own checkpointing in get_peft_model.
        gradient_checkpointing=hp.gradient_checkpointing and choice.name != "unsloth",
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=choice.dtype == "bfloat16",
        fp16=choice.dtype == "float16",
        use_cpu=choice.backend == "cpu",
        dataloader_pin_memory=choice.backend == "cuda",
        max_length=job.max_seq_length,
        packing=False,
        # Keeps the loss_weights column, which the model's forward does not take (the loss pops it).
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        **_reporting(job),
        disable_tqdm=True,
        # Log NaN/inf losses as they are, so divergence is seen (and stopped) at the step it happens.
        logging_nan_inf_filter=False,
        save_only_model=False,
    )
    return config


def _reporting(job: TrainJob) -> dict[str, Any]:
    """``report_to`` and where it writes: TensorBoard under the run folder, Trackio as project dndtune."""
    from trl.trainer.sft_config import SFTConfig

    report_to = job.hparams.report_to
    args: dict[str, Any] = {"report_to": report_to}
    if report_to == "none":
        return args
    args["run_name"] = job.layout.name
    fields = SFTConfig.__dataclass_fields__
    if "project" in fields:
        args["project"] = "dndtune"
    if report_to == "tensorboard" and "logging_dir" in fields:
        # transformers < 5 reads it from the arguments; 5.x from the callback (see _build_trainer).
        args["logging_dir"] = str(job.layout.tensorboard)
    return args


def train_adapter(job: TrainJob, train_examples: Sequence[Mapping[str, Any]],
                  eval_examples: Sequence[Mapping[str, Any]], events: EventSink, *,
                  stop_event: threading.Event | None = None) -> TrainResult:
    """Train LoRA adapters on ``train_examples``; returns when done, stopped, or raises on divergence."""
    started = time.perf_counter()
    require_reporter(job.hparams.report_to)
    events.emit(TrainEngine(message=job.engine.describe(), engine=job.engine.name, backend=job.engine.backend,
                            dtype=job.engine.dtype, load_in_4bit=job.engine.load_in_4bit, reason=job.engine.reason))
    tokenizer = load_tokenizer(job.model)
    data = _tokenize(job, tokenizer, train_examples, eval_examples, events)

    key = resume_key(job, data.train, data.eval)
    checkpoint = decide_resume(job.layout.checkpoints, key, job.resume, events)
    if checkpoint is None and job.continue_from is not None and job.resume is not False:
        checkpoint = adopt_checkpoint(job.continue_from, job.layout.checkpoints, key, job.hparams.max_steps, events)
        if checkpoint is not None and job.continue_from.parent != job.layout.root:
            _copy_metrics(job.continue_from.parent / job.layout.metrics.name, job.layout.metrics)
    write_key(job.layout.checkpoints, key)
    if checkpoint is None:
        # A fresh start: metrics from an earlier attempt would mix two runs in one curve.
        job.layout.metrics.unlink(missing_ok=True)
        shutil.rmtree(job.layout.tensorboard, ignore_errors=True)

    with _stdout_to_events(events):
        model = load_for_training(job.model.path, job.engine, job.lora, max_seq_length=job.max_seq_length,
                                  gradient_checkpointing=job.hparams.gradient_checkpointing, seed=job.hparams.seed)
    trainable, total = _parameter_counts(model)
    events.emit(ModelLoaded(message=f"LoRA r={job.lora.r}: {trainable:,} trainable of {total:,} parameters",
                            trainable_params=trainable, total_params=total))
    if any(item.weights is not None for item in data.train) and not supports_masked_loss(model):
        events.emit(WeightsUnsupported(
            message="train.decision_loss_weight is not applied: this model's LM head is not a plain linear layer, "
                    "so its own unweighted loss is used"))

    callback = EventCallback(events, stop_event=stop_event, metrics_path=job.layout.metrics)
    with _stdout_to_events(events):
        trainer, stopper = _build_trainer(job, model, tokenizer, data, callback)
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    state = trainer.state
    if callback.diverged is not None:
        bad = callback.diverged
        raise DndtuneError(
            f"training diverged: {' and '.join(bad['what'])} became non-finite at step {bad['step']}",
            fix=f"lower train.lr (now {job.hparams.lr:g}) or raise train.warmup_ratio; "
            "checkpoints before the divergence are kept",
        )
    plot = write_loss_plot(job.layout.metrics, job.layout.loss_plot)
    if plot is not None:
        events.emit(LossPlotted(message=f"loss curve: {plot}", path=str(plot)))
    best = state.best_metric if stopper is not None else _best(callback.history)
    common = {
        "step": state.global_step, "max_steps": state.max_steps,
        "resumed_from_step": checkpoint_step(checkpoint) if checkpoint is not None else None,
        "final_loss": _last(callback.history, "loss"), "best_eval_loss": None if best is None else float(best),
        "train_labels": data.train_stats.as_dict(),
        "eval_labels": data.eval_stats.as_dict() if data.eval_stats else None,
        "resume_key": key, "engine": job.engine.name, "history": list(callback.history),
    }
    if callback.stopped_by_request and state.global_step < state.max_steps:
        saved = job.layout.checkpoints / f"checkpoint-{state.global_step}"
        events.emit(TrainStopped(message=f"stopped at step {state.global_step}; rerun to resume",
                                 step=state.global_step, checkpoint=str(saved)))
        return TrainResult(status="stopped", adapter_dir=None, checkpoint=saved, early_stopped=False,
                           seconds=time.perf_counter() - started, **common)

    early_stopped = stopper is not None and stopper.early_stopping_patience_counter >= (
        job.hparams.early_stopping_patience or 0)
    if early_stopped:
        kept = f", keeping the best checkpoint (eval loss {best:.4f})" if best is not None else ""
        events.emit(EarlyStopped(message=f"eval loss stopped improving: early stop at step {state.global_step}{kept}",
                                 step=state.global_step))
    save_adapter(trainer.model, tokenizer, job.layout.adapter)
    events.emit(AdapterSaved(message=f"adapter saved to {job.layout.adapter}", path=str(job.layout.adapter)))
    return TrainResult(status="completed", adapter_dir=job.layout.adapter, checkpoint=None,
                       early_stopped=early_stopped, seconds=time.perf_counter() - started, **common)


@dataclass
class _Splits:
    train: list[TokenizedConversation]
    train_stats: LabelStats
    eval: list[TokenizedConversation]
    eval_stats: LabelStats | None


def _tokenize(job: TrainJob, tokenizer: Any, train_examples: Sequence[Mapping[str, Any]],
              eval_examples: Sequence[Mapping[str, Any]], events: EventSink) -> _Splits:
    """Both splits with assistant-only labels; fails before any model is loaded if nothing is trainable."""
    renderer = ChatRenderer(tokenizer, job.model.chat_template, job.model.end_of_turn)
    # Only the training loss is weighted: the eval loss stays the plain loss, comparable between runs.
    train, train_stats = tokenize_split(renderer, train_examples, job.max_seq_length, "train", events,
                                        emphasis=emphasis_for(job))
    require_trainable(train_stats, "train", job.max_seq_length)
    evaluation: list[TokenizedConversation] = []
    eval_stats: LabelStats | None = None
    if eval_examples:
        evaluation, eval_stats = tokenize_split(renderer, eval_examples, job.max_seq_length, "eval", events)
    if job.hparams.early_stopping_patience is not None and not evaluation:
        events.emit(NoEvalSplit(message="no held-out conversations: evaluation and early stopping are off"))
    return _Splits(train, train_stats, evaluation, eval_stats)


def _build_trainer(job: TrainJob, model: Any, tokenizer: Any, data: _Splits,
                   callback: EventCallback) -> tuple[Any, Any]:
    """dndtune's SFT trainer and, when early stopping is on, its stopping callback."""
    from transformers import EarlyStoppingCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    has_eval = bool(data.eval)
    patience = job.hparams.early_stopping_patience
    stopper = EarlyStoppingCallback(early_stopping_patience=patience) if has_eval and patience is not None else None
    callbacks: list[Any] = [callback] if stopper is None else [callback, stopper]
    if job.release_freed_memory and job.engine.backend == "cpu" and can_release_freed_memory():
        # First, so the memory figure the step's log reports is after the release.
        callbacks.insert(0, ReleaseFreedMemory())
    trainer = sft_trainer_class()(
        model=model, args=_sft_config(job, has_eval, stopper is not None), train_dataset=_dataset(data.train),
        eval_dataset=_dataset(data.eval) if has_eval else None, processing_class=tokenizer,
        data_collator=LabelCheckingCollator(pad_token_id=tokenizer.pad_token_id), callbacks=callbacks,
    )
    # disable_tqdm swaps the progress bar for a callback that prints every log dict.
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    if job.hparams.report_to == "tensorboard":
        _log_tensorboard_to(trainer, job.layout.tensorboard)
    return trainer, stopper


def _log_tensorboard_to(trainer: Any, folder: Path) -> None:
    """Points transformers' TensorBoard callback at ``<run>/tensorboard`` (its default is under checkpoints/)."""
    from transformers.integrations.integration_utils import TensorBoardCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(folder)


def save_adapter(model: Any, tokenizer: Any, target: Path) -> None:
    """The PEFT adapter plus the tokenizer (with the chat template it was trained with), atomically."""
    with atomic_path(target, is_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def _parameter_counts(model: Any) -> tuple[int, int]:
    trainable = total = 0
    for parameter in model.parameters():
        count = int(parameter.numel())
        total += count
        if parameter.requires_grad:
            trainable += count
    return trainable, total


def _last(history: Sequence[Mapping[str, Any]], key: str) -> float | None:
    for record in reversed(history):
        value = record.get(key)
        if value is not None:
            return float(value)
    return None


def _best(history: Sequence[Mapping[str, Any]]) -> float | None:
    values = [float(r["eval_loss"]) for r in history if r.get("eval_loss") is not None]
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else None
