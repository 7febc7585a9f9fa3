"""The recipe: one YAML file that says which model to tune, on what data, how, and for which target.

Every field carries a ``description`` so ``docs/recipes.md`` and ``--help``-style listings are
generated from this file alone. Cross-field rules raise :func:`field_error`, which names the
offending field so the loader can point at its YAML line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dndtune.gguf.quant_types import MOBILE_LADDER, split_rung
from dndtune.models.profiles import builtin_profiles
from dndtune.recipe.numbers import MAX_SEED, MAX_STEPS, Float, Int
from dndtune.units import parse_size

PROFILE_NAMES = tuple(builtin_profiles())
"""The profiles :mod:`dndtune.models.profiles` ships, by name."""

LR_SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")

def field_error(field: str, message: str) -> PydanticCustomError:
    """A cross-field validation error that names ``field`` (dotted, relative to the model raising it).

    Pydantic reports model-level errors at the model's own location; the loader reads
    ``ctx["field"]`` to descend to the key the user has to change.
    """
    return PydanticCustomError("field_error", message, {"field": field})


def byte_size(value: Any) -> int:
    """A size field's value in bytes (``"2GB"``, ``"1.5 GiB"`` or an int), as a pydantic error when unreadable."""
    try:
        return parse_size(value)
    except ValueError as exc:
        raise PydanticCustomError("size", str(exc)) from None


ByteSize = Annotated[int, BeforeValidator(byte_size)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True)


class BaseModelSection(_Section):
    profile: str | None = Field(
        default=None,
        description="Model profile: chat template, tool-call format, LoRA targets, memory figures. "
        f"One of {', '.join(PROFILE_NAMES)}. May be left out when name_or_path points at a "
        "Gemma 2/3 or Qwen 2/2.5/3 model (the family is read from its config).",
    )
    name_or_path: str | None = Field(
        default=None,
        description="Hugging Face id or local folder of the base model; overrides the profile's default id.",
    )
    load_in_4bit: bool = Field(
        default=False,
        description="Load the base weights in 4-bit (QLoRA). Needs CUDA and bitsandbytes; the doctor checks.",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="Precision of the loaded weights; auto picks bfloat16 where the device supports it, "
        "else float32 (float16 on older GPUs).",
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if value is not None and value not in PROFILE_NAMES:
            raise PydanticCustomError("unknown_profile", "unknown profile {got}; known: {known}",
                                      {"got": repr(value), "known": ", ".join(PROFILE_NAMES)})
        return value

    @model_validator(mode="after")
    def _something_to_load(self) -> BaseModelSection:
        if self.profile is None and not self.name_or_path:
            raise field_error("profile", "set base_model.profile or base_model.name_or_path")
        return self


class AugmentSection(_Section):
    enabled: bool = Field(default=True, description="Add augmented copies of each training conversation.")
    copies: Int = Field(default=2, ge=0, le=50, description="Augmented copies per original conversation.")
    seed: Int = Field(default=0, description="Seed for the augmentation choices (same seed, same dataset).")
    names: bool = Field(default=True, description="Swap character and NPC names consistently.")
    settings: bool = Field(default=True, description="Swap places and setting words consistently.")
    dice: bool = Field(
        default=True,
        description="Vary dice results (and the DM's outcome narration with them).",
    )
    dialogue: bool = Field(default=True, description="Vary player phrasing with paraphrase templates.")


class DataSection(_Section):
    scenarios_dir: Path = Field(
        default=Path("training-data"),
        description="Folder of Markdown scenarios (relative paths are taken from the current directory).",
    )
    categories: dict[str, Float] = Field(
        default_factory=dict,
        description="Sampling weight per scenario category (sub-folder); empty means all categories equally.",
    )
    max_per_category: Int | None = Field(
        default=None, ge=1, description="Cap on conversations taken from one category (none = no cap)."
    )
    augment: AugmentSection = Field(default_factory=AugmentSection, description="Data augmentation.")
    eval_fraction: Float = Field(
        default=0.15, ge=0.0, le=0.5,
        description="Share of scenarios held out for evaluation (split by scenario, never by turn).",
    )
    split_seed: Int = Field(default=0, description="Seed of the train/eval split.")
    max_seq_length: Int = Field(
        default=1024, ge=64, le=131072,
        description="Longest tokenized conversation trained on; longer ones are truncated. "
        "Activation memory grows with it.",
    )

    @field_validator("categories")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if weight < 0:
                raise PydanticCustomError("weight", "weight of category {name} must be >= 0",
                                          {"name": repr(name)})
        if value and not any(w > 0 for w in value.values()):
            raise PydanticCustomError("weight", "at least one category weight must be > 0")
        return value


class LoraSection(_Section):
    r: Int = Field(
        default=16, ge=1, le=1024,
        description="LoRA rank (adapter size); 8-32 suits small models.",
    )
    alpha: Int = Field(
        default=32, gt=0, le=8192,
        description="LoRA scaling numerator; the update is scaled by alpha / r.",
    )
    dropout: Float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["profile"] = Field(
        default="profile",
        description='Module names that get adapters; "profile" uses the model profile\'s list '
        "(all attention and MLP projections).",
    )

    @field_validator("target_modules")
    @classmethod
    def _non_empty(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and not value:
            raise PydanticCustomError("empty", 'must list at least one module (or be "profile")')
        return value


class TrainSection(_Section):
    epochs: Float = Field(
        default=3, gt=0, le=1000,
        description="Passes over the training set (ignored when max_steps is set).",
    )
    max_steps: Int | None = Field(
        default=None, ge=1, le=MAX_STEPS, description="Stop after this many optimizer steps (overrides epochs)."
    )
    lr: Float = Field(default=2e-4, gt=0, lt=1, description="Peak learning rate.")
    lr_scheduler: str = Field(default="cosine", description=f"Schedule: {', '.join(LR_SCHEDULERS)}.")
    warmup_ratio: Float = Field(default=0.05, ge=0.0, lt=1.0, description="Share of steps spent warming up.")
    batch_size: Int = Field(default=1, ge=1, le=1024, description="Conversations per device step.")
    grad_accum: Int = Field(
        default=4, ge=1, le=1024, description="Steps accumulated per optimizer step "
        "(effective batch = batch_size x grad_accum)."
    )
    seed: Int = Field(default=42, ge=0, le=MAX_SEED, description="Seed for model init, data order and dropout.")
    save_steps: Int = Field(
        default=50, ge=1, le=MAX_STEPS,
        description="Checkpoint every N optimizer steps (resume restarts from the last).",
    )
    eval_steps: Int = Field(
        default=25, ge=1, le=MAX_STEPS,
        description="Evaluate on the held-out split every N optimizer steps.",
    )
    logging_steps: Int = Field(
        default=1, ge=1, le=MAX_STEPS,
        description="Report loss and learning rate every N optimizer steps.",
    )
    early_stopping_patience: Int | None = Field(
        default=3, ge=1, le=1000,
        description="Stop after this many evaluations without improvement (none = never stop early).",
    )
    gradient_checkpointing: bool = Field(
        default=True, description="Recompute activations in the backward pass: less memory, ~30 % slower."
    )
    engine: Literal["auto", "unsloth", "trl"] = Field(
        default="auto",
        description="Training engine: auto picks Unsloth on CUDA when it imports cleanly, "
        "else TRL + PEFT (also on CPU, where it measured faster).",
    )
    save_total_limit: Int = Field(
        default=3, ge=1, le=1000,
        description="Checkpoints kept on disk (oldest removed first).",
    )
    weight_decay: Float = Field(default=0.0, ge=0.0, le=1.0, description="AdamW weight decay.")
    decision_loss_weight: Float = Field(
        default=1.0, ge=1.0, le=20.0,
        description="Loss weight of the tokens that decide a DM turn: each roll tool-call block and the "
        "end-of-turn token (1 = plain loss). They are a small share of the trained tokens; a weight "
        "above 1 spends more of the gradient on when to roll, which skill and when to stop.",
    )
    report_to: Literal["none", "tensorboard", "trackio"] = Field(
        default="none",
        description="Also send the training metrics to TensorBoard (event files in `<run>/tensorboard/`, "
        "see `tensorboard --logdir <output.dir>/runs`) or to Trackio (project dndtune); needs that package "
        "installed. run.log, metrics.jsonl and loss.png are written either way.",
    )

    @model_validator(mode="before")
    @classmethod
    def _epochs_or_steps(cls, data: Any) -> Any:
        # epochs stays a float for the engine; a null is only accepted when max_steps takes over.
        if isinstance(data, dict) and "epochs" in data and data["epochs"] is None:
            if data.get("max_steps") is None:
                raise field_error("epochs", "set train.epochs or train.max_steps (both are empty)")
            data = {k: v for k, v in data.items() if k != "epochs"}
        return data

    @field_validator("lr_scheduler")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        if value not in LR_SCHEDULERS:
            raise PydanticCustomError("scheduler", "unknown schedule {got}; known: {known}",
                                      {"got": repr(value), "known": ", ".join(LR_SCHEDULERS)})
        return value

    @model_validator(mode="after")
    def _checkpoints_line_up(self) -> TrainSection:
        # Early stopping reloads the best checkpoint, which transformers only allows when every
        # save lands on an evaluation.
        if self.early_stopping_patience is not None and self.save_steps % self.eval_steps != 0:
            raise field_error(
                "save_steps",
                f"must be a multiple of eval_steps ({self.eval_steps}) when early_stopping_patience is set",
            )
        return self


GateScore = Literal["roll_f1", "exact_skill", "json_validity", "stop_rate", "recall", "precision", "consistency",
                   "in_role_rate", "coherence", "perplexity"]
"""Scores the export's task-accuracy gate can compare (``roll_f1``: F1 of roll tool calls over DM turns)."""


def _default_gate_scores() -> list[GateScore]:
    return ["roll_f1", "exact_skill", "json_validity", "stop_rate"]


class GateSection(_Section):
    scores: list[GateScore] = Field(
        default_factory=_default_gate_scores,
        description="Scores of `dndtune eval` on the run's held-out split that a smaller file must keep: "
        "0-1 scores may drop at most `tolerance` (absolute) below the f16 file's, perplexity may rise at "
        "most `tolerance` (relative).",
    )
    tolerance: Float = Field(
        default=0.02, ge=0.0, le=1.0,
        description="Largest allowed drop of each gated score against the f16 file (0.02 = 2 points).",
    )
    max_turns: Int | None = Field(
        default=None, ge=1,
        description="Held-out DM turns each candidate file is evaluated on (null = evaluate.max_turns).",
    )


class PruneSection(_Section):
    allowed: bool = Field(
        default=False,
        description="When no quant (embedding rungs included) fits size_limit, drop the transformer blocks that "
        "matter least on held-out DM turns until the smallest fits.",
    )
    tolerance: Float = Field(
        default=0.10, ge=0.0,
        description="Largest relative rise of held-out DM-turn perplexity a pruned file may show; it must also "
        "pass target.gate against the f16 file.",
    )


class TargetSection(_Section):
    kind: Literal["mobile", "desktop"] = Field(default="mobile", description="Where the exported model runs.")
    size_limit: ByteSize = Field(
        default=2 * 10**9,
        description='Largest GGUF file accepted, e.g. "2GB", "1.5 GiB" or bytes; export walks the '
        "quant ladder until a file fits.",
    )
    quant_ladder: list[str] = Field(
        default_factory=lambda: list(MOBILE_LADDER),
        description="GGUF quantizations tried in order (best quality first): a llama.cpp type (Q4_K_M) or a "
        "type with a lowered token embedding (Q4_0+emb=Q4_0, the rung that shrinks vocabulary-heavy models).",
    )
    prefer: Literal["first_fit", "smallest"] = Field(
        default="first_fit",
        description="first_fit: the first rung that fits size_limit wins. smallest: the smallest fitting rung "
        "whose held-out scores stay within target.gate of the f16 file's (tried smallest first; the first fit "
        "ships when none smaller passes).",
    )
    gate: GateSection = Field(default_factory=GateSection,
                              description="Task-accuracy gate of prefer: smallest and of pruning.")
    embedding_fallback: bool = Field(
        default=True,
        description="When no rung of the ladder fits, also try lowering the token embedding of its last rung "
        "(models whose vocabulary holds over a quarter of the weights).",
    )
    prune: PruneSection = Field(default_factory=PruneSection,
                                description="Layer pruning, the last fallback when nothing fits.")
    allow_drift: bool = Field(
        default=False,
        description="Accept a file whose next-token distributions drift past its type's KL tolerance "
        "(the drift is still reported in model.json).",
    )

    @field_validator("size_limit")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise PydanticCustomError("size", "must be > 0")
        return value

    @field_validator("quant_ladder")
    @classmethod
    def _known_quants(cls, value: list[str]) -> list[str]:
        if not value:
            raise PydanticCustomError("empty", "must list at least one quantization")
        normalized: list[str] = []
        for q in value:
            try:
                quant, embedding = split_rung(q)
            except ValueError as exc:
                raise PydanticCustomError("quant", "{why}", {"why": str(exc)}) from None
            normalized.append(quant if embedding is None else f"{quant}+emb={embedding}")
        return normalized


class EvaluateSection(_Section):
    enabled: bool = Field(
        default=True,
        description="Run the evaluate stage after export: the exported GGUF on the held-out split, "
        "scored against the goals (docs/evaluation.md).",
    )
    max_tokens: Int = Field(
        default=160, ge=16, le=4096,
        description="Reply budget per DM turn; a reply that needs more does not stop cleanly.",
    )
    max_turns: Int | None = Field(
        default=None, ge=1, description="Evaluate only the first N held-out DM turns (null = all of them)."
    )
    baseline: bool = Field(
        default=True,
        description="Score the base model too, for comparison; computed once per base model, split and "
        "settings, then reused from dndtune's cache.",
    )
    baseline_max_turns: Int | None = Field(
        default=40, ge=1,
        description="DM turns the base model is scored on (null = all): an untuned model writes max_tokens "
        "on most turns, so this bounds the time.",
    )
    regression: bool = Field(
        default=True, description="Run the fixed regression suite (short scenes that must keep passing) on both."
    )
    grammar: bool = Field(
        default=True,
        description="Decode replies under the roll grammar the deploy bundle ships (roll.gbnf), as the app "
        "does; false scores the model unconstrained (docs/evaluation.md).",
    )


class OutputSection(_Section):
    run_name: str = Field(
        default="run", min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Name of the run (letters, digits, . _ -); run folders are named after it.",
    )
    dir: Path = Field(default=Path("training-output"), description="Where runs, checkpoints and exports go.")


class Recipe(_Section):
    """A whole training recipe; ``recipes/*.yaml`` files validate into this."""

    base_model: BaseModelSection = Field(description="Which model to fine-tune and how to load it.")
    data: DataSection = Field(default_factory=DataSection, description="Scenarios, augmentation and split.")
    lora: LoraSection = Field(default_factory=LoraSection, description="LoRA adapter shape.")
    train: TrainSection = Field(default_factory=TrainSection, description="Optimization and checkpointing.")
    target: TargetSection = Field(default_factory=TargetSection, description="Export target and size budget.")
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection,
                                      description="Evaluation of the exported model against the goals.")
    output: OutputSection = Field(default_factory=OutputSection, description="Run name and output folder.")
    source_path: Path | None = Field(
        default=None, exclude=True,
        description="File the recipe was loaded from (set by the loader, never written back).",
    )

    @model_validator(mode="after")
    def _eval_needed(self) -> Recipe:
        if self.train.early_stopping_patience is not None and self.data.eval_fraction == 0:
            raise field_error("train.early_stopping_patience",
                              "needs held-out data: set data.eval_fraction > 0 "
                              "or early_stopping_patience: null")
        return self

    def effective_batch(self) -> int:
        return self.train.batch_size * self.train.grad_accum
