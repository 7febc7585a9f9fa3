"""Peak-memory estimate for a LoRA / QLoRA run, before anything is loaded.

The formula and every constant are documented in ``docs/memory-estimate.md``; a test checks it
against the measured peak of a few real training steps on a small model. The figure is meant to
catch runs that cannot fit (and say what would), not to predict the last megabyte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dndtune.machine import Backend, TrainDtype, pick_dtype
from dndtune.models.profiles import ModelProfile
from dndtune.recipe.schema import Recipe

DTYPE_BYTES: dict[TrainDtype, int] = {"float32": 4, "bfloat16": 2, "float16": 2}

NF4_BYTES_PER_PARAM = 0.5 + 4 / 64
"""4-bit NF4 weights plus one fp32 absmax per 64-weight block (bitsandbytes, no double quantization)."""

LORA_BYTES_PER_PARAM = 16
"""fp32 adapter weight (4) + its gradient (4) + AdamW first and second moments (4 + 4)."""

LOSS_CHUNK_ELEMENTS = 16 * 2**20
"""Logit elements per chunk of dndtune's loss (``dndtune.train.loss.CHUNK_ELEMENTS``; a test keeps the two equal).

Every engine computes the training and held-out loss a chunk of rows at a time (dndtune's loss on
CPU and MPS and whenever loss weights are used, TRL's fused LM head on CUDA), so the full logits
never exist."""

LOSS_CHUNK_FP32_COPIES = 3
"""fp32 blocks of one chunk alive at once: the upcast logits, logsumexp's exponentials, the softmax gradient."""

LOSS_FP32_COPIES = 4
"""For a head the chunked loss cannot take (LoRA on ``lm_head``): fp32 tensors of logits size at the
loss peak, i.e. the upcast logits, the log-softmax cross-entropy saves, and in backward their two
gradients."""

CHECKPOINT_LIVE_LAYERS = 3
"""With gradient checkpointing, full layer activations alive at the peak: the layer recomputed in
backward, its activation gradients, and the blocks the allocator keeps from the forward pass's
transient layers (measured: RSS grows by ~3 layers' worth, not 1)."""

OVERHEAD_BYTES: dict[Backend, int] = {"cuda": 750 * 2**20, "mps": 1024 * 2**20, "cpu": 1024 * 2**20}
"""Runtime baseline: CUDA context and cuBLAS workspace on a GPU; Python, torch and transformers in RAM."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per component at the training peak; ``total`` is what must fit."""

    weights: int
    lora: int
    activations: int
    attention: int
    logits: int
    overhead: int
    dtype: TrainDtype
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


# Bytes a decoder layer keeps for backward, per token, per unit of width: (intermediate i,
# attention q (and k/v), hidden h). Measured with torch.autograd.graph.saved_tensors_hooks on
# LoRA-wrapped Gemma 3 and Qwen 3 layers (all projections adapted) in transformers 5: the MLP keeps
# gate, up, activation and product; attention keeps projections, q/k norms and the SDPA output;
# RMSNorms keep their fp32 upcasts, which is why 16-bit layers keep more per h than half of fp32.
# Keys: (family group, bytes per element of the compute dtype).
LAYER_BYTES: dict[tuple[str, int], tuple[float, float, float]] = {
    ("gemma", 4): (25.2, 26.3, 27.1),
    ("gemma", 2): (14.7, 19.3, 37.3),
    ("qwen", 4): (25.2, 18.3, 17.1),
    ("qwen", 2): (14.7, 15.3, 28.2),
}
# LoRA dropout (p > 0) keeps a dropped-out, fp32 copy of each adapted input and its mask.
DROPOUT_BYTES: dict[int, tuple[float, float, float]] = {4: (4.0, 8.0, 32.0), 2: (4.0, 4.0, 20.0)}


def layer_activation_bytes(profile: ModelProfile, dtype_bytes: int, *, dropout: bool) -> int:
    """Bytes one decoder layer keeps for backward per token (k and v count like q)."""
    dims = profile.dims
    group = "gemma" if profile.family in ("gemma2", "gemma3") else "qwen"
    width = 4 if dtype_bytes == 4 else 2
    per_i, per_q, per_h = LAYER_BYTES[(group, width)]
    if dropout:
        extra = DROPOUT_BYTES[width]
        per_i, per_q, per_h = per_i + extra[0], per_q + extra[1], per_h + extra[2]
    attention_width = dims.q_size + dims.kv_size
    return int(per_i * dims.intermediate_size + per_q * attention_width + per_h * dims.hidden_size)


def target_modules(recipe: Recipe, profile: ModelProfile) -> tuple[str, ...]:
    targets = recipe.lora.target_modules
    return profile.lora_target_modules if targets == "profile" else tuple(targets)


def estimate_peak_memory(recipe: Recipe, profile: ModelProfile, *, backend: Backend, bf16_supported: bool,
                         attn_implementation: str = "sdpa") -> MemoryEstimate:
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
    per_layer = layer_activation_bytes(profile, act, dropout=recipe.lora.dropout > 0)
    seq = recipe.data.max_seq_length
    # Eager attention keeps the softmaxed scores (batch x heads x seq x seq); SDPA's fused
    # kernels, which transformers uses by default on CPU and CUDA, keep only a log-sum-exp.
    probs_layer = recipe.train.batch_size * dims.num_heads * seq * seq * act if attn_implementation == "eager" else 0
    if recipe.train.gradient_checkpointing:
        # Each layer's input is kept, plus CHECKPOINT_LIVE_LAYERS layers' worth of full activations.
        live = min(CHECKPOINT_LIVE_LAYERS, dims.num_layers)
        activations = tokens * (dims.num_layers * h * act + live * per_layer)
        attention = probs_layer * live
    else:
        activations = tokens * dims.num_layers * per_layer
        attention = probs_layer * dims.num_layers
    if "lm_head" in target_modules(recipe, profile):
        # An adapted head is not a plain Linear: the model's own loss, over the full logits.
        logits = tokens * dims.vocab_size * (act + 4 * LOSS_FP32_COPIES)
    else:
        logits = min(tokens * dims.vocab_size, LOSS_CHUNK_ELEMENTS) * (act + 4 * LOSS_CHUNK_FP32_COPIES)

    return MemoryEstimate(
        weights=weights, lora=lora, activations=activations, attention=attention, logits=logits,
        overhead=OVERHEAD_BYTES[backend], dtype=dtype, tokens=tokens, total_params=total_params,
        lora_params=lora_params,
    )
