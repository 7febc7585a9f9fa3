"""The one table of llama.cpp file types dndtune knows, and every fact the code keeps about each.

Like gguf-py's ``GGML_QUANT_SIZES`` for tensor types, :data:`QUANT_TYPES` is the only place a
file type is listed: the recipe's allowed ladder entries, the export's ``llama-quantize``
arguments, the verifier's drift tolerance and the plan's size preview all read it. Rows run from
the finest type to the coarsest, so any list derived from the table is in that order too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuantType:
    """One llama.cpp file type (what ``llama-quantize`` accepts by name)."""

    name: str
    ftype: int
    """llama.h's ``LLAMA_FTYPE_*`` value (``general.file_type`` in the GGUF)."""
    tensor_type: str
    """ggml.h's ``GGML_TYPE_*`` most tensors get (K-quant mixes give some layers more bits)."""
    bits_per_weight: float
    """Average bits per weight, block scales included and K-quant mixes averaged: only for size
    previews before anything is quantized (the export measures the real file)."""
    kl_tolerance: float
    """Mean KL(HF || GGUF) in nats the verifier allows over its parity prompts."""
    quantized: bool = True
    """False for the float types, which llama.cpp writes without a mix or a fallback."""
    legacy: bool = False
    """Every mobile llama.cpp runtime has kernels for it (older builds ship no K-quants)."""
    embedding: bool = False
    """An embedding rung may lower the token embedding to it (``Q4_0+emb=Q4_0``)."""


# name, LLAMA_FTYPE_*, GGML_TYPE_* of most tensors, bits per weight, KL tolerance
_ROWS = (
    QuantType("F32", 0, "F32", 32.0, 0.01, quantized=False),
    QuantType("F16", 1, "F16", 16.0, 0.01, quantized=False),
    QuantType("BF16", 32, "BF16", 16.0, 0.02, quantized=False),
    QuantType("Q8_0", 7, "Q8_0", 8.5, 0.03, legacy=True, embedding=True),
    QuantType("Q6_K", 18, "Q6_K", 6.56, 0.06, embedding=True),
    QuantType("Q5_K_M", 17, "Q5_K", 5.7, 0.1),
    QuantType("Q5_K_S", 16, "Q5_K", 5.54, 0.12),
    QuantType("Q5_1", 9, "Q5_1", 6.0, 0.12),
    QuantType("Q5_0", 8, "Q5_0", 5.5, 0.12, legacy=True, embedding=True),
    QuantType("Q4_K_M", 15, "Q4_K", 4.89, 0.2),
    QuantType("Q4_K_S", 14, "Q4_K", 4.58, 0.25),
    QuantType("Q4_1", 3, "Q4_1", 5.0, 0.25),
    QuantType("Q4_0", 2, "Q4_0", 4.5, 0.3, legacy=True, embedding=True),
    QuantType("IQ4_NL", 25, "IQ4_NL", 4.5, 0.3),
    QuantType("IQ4_XS", 30, "IQ4_XS", 4.25, 0.3),
    QuantType("Q3_K_L", 13, "Q3_K", 4.27, 0.5),
    QuantType("Q3_K_M", 12, "Q3_K", 3.91, 0.6),
    QuantType("Q3_K_S", 11, "Q3_K", 3.5, 0.8),
    QuantType("Q2_K", 10, "Q2_K", 3.0, 1.2),
)

QUANT_TYPES: dict[str, QuantType] = {row.name: row for row in _ROWS}
"""File type name -> its facts, finest first; the names are the ones a recipe's ladder may list.

The tests check ``ftype`` and ``tensor_type`` against gguf-py's ``LlamaFileType`` and
``GGMLQuantizationType``."""

UNQUANTIZED = tuple(row.name for row in _ROWS if not row.quantized)

LEGACY_TYPES = tuple(row.name for row in _ROWS if row.legacy)

EMBEDDING_TYPES = tuple(row.name for row in _ROWS if row.embedding)

MOBILE_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q4_K_M", "Q4_0", "Q5_0+emb=Q5_0", "Q4_0+emb=Q4_0")
"""The default ladder of a phone build, finest first: with ``target.prefer: first_fit`` the export
takes the first that fits; the embedding rungs at the end are what shrinks a model whose token
embedding dominates (Gemma 3 270M: ~290 MB at every plain type, ~170 MB at ``Q4_0+emb=Q4_0``)."""
DESKTOP_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0")

_K_BLOCK = 256
"""Row length a K-quant block needs; llama.cpp keeps a tied embedding whose rows do not split at Q8_0."""


def split_rung(label: str) -> tuple[str, str | None]:
    """``"Q4_K_M"`` -> ``("Q4_K_M", None)``, ``"q4_0+emb=q4_0"`` -> ``("Q4_0", "Q4_0")``.

    Raises ``ValueError`` with the reason for an unknown type or a malformed embedding part.
    """
    quant, _, rest = label.strip().upper().partition("+")
    embedding: str | None = None
    if rest:
        key, _, value = rest.partition("=")
        if key != "EMB" or value not in EMBEDDING_TYPES:
            raise ValueError(f"bad quant rung {label!r}: write TYPE or TYPE+emb=E with E one of "
                             f"{', '.join(EMBEDDING_TYPES)}")
        embedding = value
    if quant not in QUANT_TYPES:
        raise ValueError(f"unknown quantization {quant!r}; known: {', '.join(QUANT_TYPES)}")
    return quant, embedding


def preview_size(params: int, label: str, *, embedding_params: int = 0, row: int = 0) -> int:
    """A rung's file size from parameter counts alone, for ``--dry-run`` before any GGUF exists.

    ``embedding_params`` (vocabulary x hidden, tied) and ``row`` (hidden size) let the preview follow
    llama.cpp's rule for the token embedding: Q8_0 when its rows do not split into K-quant blocks,
    Q6_K otherwise, unless the rung lowers it. The export predicts the real size from the f16 file.
    """
    quant, embedding = split_rung(label)
    bits = QUANT_TYPES[quant].bits_per_weight
    if embedding_params <= 0:
        return int(params * bits / 8)
    if embedding is None:
        kept = "Q8_0" if row % _K_BLOCK else "Q6_K"
        emb_bits = bits if bits >= QUANT_TYPES[kept].bits_per_weight or not QUANT_TYPES[quant].quantized \
            else QUANT_TYPES[kept].bits_per_weight
    else:
        emb_bits = QUANT_TYPES[embedding].bits_per_weight
    return int((params - embedding_params) * bits / 8 + embedding_params * emb_bits / 8)
