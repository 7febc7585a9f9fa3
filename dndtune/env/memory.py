"""Peak-memory estimate for a LoRA / QLoRA run, before anything is loaded.

The formula and every constant are documented in ``docs/memory-estimate.md``; a test checks it
against the measured peak of a few real training steps on a small model. The figure is meant to
catch runs that cannot fit (and say what would), not to predict the last megabyte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from dndtune.models.profiles import ModelProfile
from dndtune.recipe.schema import Recipe

Backend = Literal["cuda", "mps", "cpu"]
LoadDtype = Literal["float32", "bfloat16", "float16"]

DTYPE_BYTES: dict[LoadDtype, int] = {"float32": 4, "bfloat16": 2, "float16": 2}

NF4_BYTES_PER_PARAM = 0.5 + 4 / 64
"""4-bit NF4 weights plus one fp32 absmax per 64-weight block (bitsandbytes, no double quantization)."""

LORA_BYTES_PER_PARAM = 16
"""fp32 adapter weight (4) + its gradient (4) + AdamW first and second moments (4 + 4)."""

LOSS_FP32_COPIES = 4
"""fp32 tensors of logits size at the loss peak: the upcast logits, the log-softmax cross-entropy saves,
and in backward their two gradients. On CPU the allocator keeps freed blocks of this size mapped,
so the measured peak sits near this count even where some of them are already dead."""

OVERHEAD_BYTES: dict[Backend, int] = {"cuda": 750 * 2**20, "mps": 1024 * 2**20, "cpu": 1024 * 2**20}
"""Runtime baseline: CUDA context and cuBLAS workspace on a GPU; Python, torch and transformers in RAM."""


def pick_dtype(requested: str, backend: Backend, bf16_supported: bool) -> LoadDtype:
    """The precision ``dtype: auto`` means here: bf16 where the device does it natively.

    CUDA without bf16 (before Ampere) gets float16; MPS trains in float32, where its kernels are
    complete.
    """
    if requested in ("float32", "bfloat16", "float16"):
        return requested  # type: ignore[return-value]
    if backend == "cuda":
        return "bfloat16" if bf16_supported else "float16"
    if backend == "cpu" and bf16_supported:
        return "bfloat16"
    return "float32"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per component at the training peak; ``total`` is what must fit."""

    weights: int
    lora: int
    activations: int
    attention: int
    logits: int
    overhead: int
    dtype: LoadDtype
    tokens: int
    total_params: int
    lora_params: int

    @property
    def total(self) -> int:
        return self.weights + self.lora + self.activations + self.attention + self.logits + self.overhead

    @property
    def training(self) -> int:
        """Everything the run allocates on top of the runtime baseline (what the test measures)."""
        return self.total - self.overhead

    def as_dict(self) -> dict[str, int | str]:
        data: dict[str, int | str] = dict(asdict(self))
        data["total"] = self.total
        return data


def target_modules(recipe: Recipe, profile: ModelProfile) -> tuple[str, ...]:
    targets = recipe.lora.target_modules
    return profile.lora_target_modules if targets == "profile" else tuple(targets)


def estimate_peak_memory(recipe: Recipe, profile: ModelProfile, *, backend: Backend,
                         bf16_supported: bool) -> MemoryEstimate:
    """Estimate the peak memory of training ``recipe`` on ``profile`` (see docs/memory-estimate.md)."""
    dims = profile.dims
    dtype = pick_dtype(recipe.base_model.dtype, backend, bf16_supported)
    act = DTYPE_BYTES[dtype]
    h, i, q, kv = dims.hidden_size, dims.intermediate_size, dims.q_size, dims.kv_size

    total_params = dims.param_count()
    if recipe.base_model.load_in_4bit:
        # bitsandbytes quantizes the decoder's Linear layers; embeddings, head and norms stay 16-bit.
        compute = 2
        dtype = dtype if dtype != "float32" else ("bfloat16" if bf16_supported else "float16")
        linear = dims.num_layers * (h * q + 2 * h * kv + q * h + 3 * h * i)
        weights = int(linear * NF4_BYTES_PER_PARAM) + (total_params - linear) * compute
        act = compute
    else:
        weights = total_params * act

    lora_params = dims.lora_params(recipe.lora.r, target_modules(recipe, profile))
    lora = lora_params * LORA_BYTES_PER_PARAM

    tokens = recipe.train.batch_size * recipe.data.max_seq_length
    # Tensors a decoder layer keeps for backward, per token: norm input/output and residuals
    # (6h), q and attention output (2q), k, v and normed k (3kv), the MLP's gate, up, activation
    # and product (4i); LoRA dropout keeps a dropped copy of each adapted input (5h + q + i).
    per_layer = 6 * h + 2 * q + 3 * kv + 4 * i
    if recipe.lora.dropout > 0:
        per_layer += 5 * h + q + i
    seq = recipe.data.max_seq_length
    # The math SDPA kernel (CPU/MPS with a mask) keeps the attention probabilities; CUDA's
    # flash / memory-efficient kernels do not.
    probs_layer = 0 if backend == "cuda" else recipe.train.batch_size * dims.num_heads * seq * seq * act
    if recipe.train.gradient_checkpointing:
        # Each layer's input is kept; one layer at a time is recomputed with its full activations.
        activations = tokens * act * (dims.num_layers * h + per_layer)
        attention = probs_layer
    else:
        activations = tokens * act * dims.num_layers * per_layer
        attention = probs_layer * dims.num_layers
    # The model's logits in the compute dtype, then fp32 copies for the loss (see LOSS_FP32_COPIES).
    logits = tokens * dims.vocab_size * (act + 4 * LOSS_FP32_COPIES)

    return MemoryEstimate(
        weights=weights, lora=lora, activations=activations, attention=attention, logits=logits,
        overhead=OVERHEAD_BYTES[backend], dtype=dtype, tokens=tokens, total_params=total_params,
        lora_params=lora_params,
    )
