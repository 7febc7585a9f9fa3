"""Predict a quantized GGUF's size from the f16 file's tensor shapes, before spending minutes quantizing.

Sizes per block come from ``gguf.GGML_QUANT_SIZES``; which type each tensor gets follows
llama.cpp's own choices (``llama_tensor_get_type`` in ``src/llama-quant.cpp`` of the pinned
version): the tied token embedding follows the output tensor (Q6_K, or Q8_0 when its rows do not
split into that type's blocks), ``*_K_M`` mixes give some ``attn_v``/``ffn_down`` layers more bits,
and a tensor whose row length is not a multiple of its type's block size falls back (Q4_K -> Q5_0,
Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, else F16). Only the dense decoder families dndtune
supports are modelled (no MoE, no Falcon special cases, no importance matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.export.quants import Rung
from dndtune.gguf.header import read_header
from dndtune.gguf.quant_types import UNQUANTIZED

_GGUF_ALIGNMENT = 32
_NOT_QUANTIZED_MARKERS = ("_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
                          "ssm_conv1d", "attn_rel_b.weight", "position_embd", "token_types")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    """ggml order: ``shape[0]`` is the row length (ne0)."""
    type: str

    @property
    def layer(self) -> int:
        if self.name.startswith("blk."):
            head = self.name.split(".", 2)[1]
            if head.isdigit():
                return int(head)
        return -1

    @property
    def rows(self) -> int:
        n = 1
        for dim in self.shape[1:]:
            n *= dim
        return n


@dataclass(frozen=True)
class ModelInfo:
    """What prediction needs from the f16 GGUF."""

    architecture: str
    n_layer: int
    n_head: int
    n_head_kv: int
    tensors: tuple[TensorInfo, ...]
    meta_bytes: int
    """Header, metadata and tensor table, padded: quantizing rewrites them at the same size."""
    file_bytes: int

    @property
    def n_gqa(self) -> int:
        return max(1, self.n_head // max(1, self.n_head_kv))

    @property
    def tied_embeddings(self) -> bool:
        return not any(t.name == "output.weight" for t in self.tensors)

    def embedding_share(self) -> float:
        """Fraction of the f16 weight bytes in the token embedding (and the output head)."""
        total = sum(_tensor_bytes(t, t.type) for t in self.tensors) or 1
        emb = sum(_tensor_bytes(t, t.type) for t in self.tensors if t.name in ("token_embd.weight", "output.weight"))
        return emb / total


@dataclass(frozen=True)
class TensorPlan:
    name: str
    source_type: str
    target_type: str
    bytes: int
    fallback_from: str | None = None
    """The type llama.cpp wanted before the row length forced another one."""


@dataclass(frozen=True)
class Prediction:
    rung: Rung
    bytes: int
    tensors: tuple[TensorPlan, ...] = field(repr=False)

    @property
    def fallbacks(self) -> list[TensorPlan]:
        return [t for t in self.tensors if t.fallback_from is not None]

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tensors:
            counts[t.target_type] = counts.get(t.target_type, 0) + 1
        return counts


def read_model_info(path: Path) -> ModelInfo:
    """Tensor shapes and the few hyperparameters llama.cpp's type choice depends on."""

    header = read_header(path)
    meta = header.metadata
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise DndtuneError("GGUF has no general.architecture", path=str(path), fix="reconvert the model")
    tensors = tuple(TensorInfo(name=t.name, shape=t.shape, type=t.type) for t in header.tensors)
    n_head = _first_int(meta.get(f"{arch}.attention.head_count"), 1)
    return ModelInfo(
        architecture=arch,
        n_layer=_first_int(meta.get(f"{arch}.block_count"), 0),
        n_head=n_head,
        n_head_kv=_first_int(meta.get(f"{arch}.attention.head_count_kv"), n_head),
        tensors=tensors,
        meta_bytes=header.data_offset,
        file_bytes=path.stat().st_size,
    )


def _first_int(value: object, default: int) -> int:
    """A scalar metadata value, or the first layer's for per-layer arrays (what llama.cpp's n_gqa() uses)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if isinstance(value, (int, float)) else default


def predict(model: ModelInfo, rung: Rung) -> Prediction:
    """The file size llama.cpp's quantizer will write for ``rung``, with every tensor's type."""
    plans = plan_types(model, rung)
    data = sum(_pad(p.bytes) for p in plans)
    return Prediction(rung=rung, bytes=model.meta_bytes + data, tensors=tuple(plans))


def plan_types(model: ModelInfo, rung: Rung) -> list[TensorPlan]:
    # llama.cpp walks tensors ordered by layer, then name; the *_K_M counters depend on that order.
    ordered = sorted(model.tensors, key=lambda t: (t.layer, t.name))
    state = _Counters(n_attention_wv=sum(1 for t in ordered if _category(t.name) == "attn_v"),
                      n_layer=model.n_layer)
    plans: list[TensorPlan] = []
    for tensor in ordered:
        target, wanted = _target_type(model, rung, tensor, state)
        plans.append(TensorPlan(name=tensor.name, source_type=tensor.type, target_type=target,
                                bytes=_tensor_bytes(tensor, target),
                                fallback_from=wanted if wanted != target else None))
    return plans


@dataclass
class _Counters:
    n_attention_wv: int
    n_layer: int
    i_attention_wv: int = 0
    i_ffn_down: int = 0


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    # Fused QKV and MLA's kv_b follow the attn_v rules (llama.cpp's later QKV branch is unreachable).
    for key, cat in (("attn_qkv.weight", "attn_v"), ("attn_kv_b.weight", "attn_v"), ("attn_v.weight", "attn_v"),
                     ("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"),
                     ("attn_output.weight", "attn_output"), ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"),
                     ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def _allows_quantization(tensor: TensorInfo) -> bool:
    if len(tensor.shape) < 2 or not tensor.name.endswith("weight"):
        return False
    return not any(marker in tensor.name for marker in _NOT_QUANTIZED_MARKERS)


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _target_type(model: ModelInfo, rung: Rung, tensor: TensorInfo, state: _Counters) -> tuple[str, str]:
    """(type written, type llama.cpp wanted before any fallback)."""
    if not _allows_quantization(tensor):
        return tensor.type, tensor.type
    category = _category(tensor.name)
    if rung.embedding is not None and category == "token_embd":
        # An explicit embedding type bypasses llama.cpp's fallback: the caller checks the row length.
        return rung.embedding, rung.embedding
    new = rung.default_type
    if rung.quant in UNQUANTIZED:
        return new, new
    new = _mixture_type(model, rung.quant, new, tensor, category, state)
    return _fallback(tensor.shape[0], new), new


def _mixture_type(model: ModelInfo, ftype: str, new: str, tensor: TensorInfo, category: str,
                  state: _Counters) -> str:
    if category == "output" or (model.tied_embeddings and category == "token_embd"):
        if tensor.shape[0] % _block(new) != 0:
            return "Q8_0"
        return new if new == "Q8_0" else "Q6_K"
    if category == "token_embd":
        return new
    if category == "attn_v":
        i, n = state.i_attention_wv, state.n_attention_wv
        state.i_attention_wv += 1
        if ftype == "Q2_K":
            new = "Q4_K" if model.n_gqa >= 4 else "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ftype == "Q3_K_L" or (ftype in ("IQ4_NL", "IQ4_XS") and model.n_gqa >= 4):
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and i < 4:
            new = "Q5_K"
        return new
    if category == "ffn_down":
        i, n = state.i_ffn_down, state.n_layer
        state.i_ffn_down += 1
        if ftype == "Q2_K":
            return "Q3_K"
        if ftype == "Q3_K_M":
            return "Q5_K" if i < n // 16 else "Q4_K"
        if ftype == "Q3_K_L":
            return "Q5_K"
        if ftype == "Q4_K_M":
            return "Q6_K" if _use_more_bits(i, n) else new
        if i < n // 8 and ftype in ("IQ4_NL", "IQ4_XS"):
            return "Q5_K"
        if ftype == "Q5_K_M" and _use_more_bits(i, n):
            return "Q6_K"
        if ftype == "Q4_K_S" and i < n // 8:
            return "Q5_K"
        return new
    if category == "attn_output":
        return {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K"}.get(ftype, new)
    return new


_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0", "IQ4_XS": "IQ4_NL"}


def _fallback(row: int, wanted: str) -> str:
    if row % _block(wanted) == 0:
        return wanted
    fallback = _FALLBACK.get(wanted, wanted)
    return fallback if row % _block(fallback) == 0 else "F16"


def _block(type_name: str) -> int:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    return int(GGML_QUANT_SIZES[GGMLQuantizationType[type_name]][0])


def _tensor_bytes(tensor: TensorInfo, type_name: str) -> int:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    block, size = GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    return tensor.rows * (tensor.shape[0] // block) * size


def _pad(n: int) -> int:
    return (n + _GGUF_ALIGNMENT - 1) // _GGUF_ALIGNMENT * _GGUF_ALIGNMENT


def embedding_fits(model: ModelInfo, embedding: str) -> bool:
    """Whether the token embedding's rows split into ``embedding``'s blocks (llama.cpp would abort otherwise)."""
    return all(t.shape[0] % _block(embedding) == 0 for t in model.tensors if _category(t.name) == "token_embd")
