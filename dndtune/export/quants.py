"""Quantization names: llama.cpp file types, their default tensor types, and ladder rungs.

A rung is a file type (``Q4_0``) optionally with the token-embedding type lowered
(``Q4_0+emb=Q4_0``). The embedding is its own rung because in small models with big
vocabularies (Gemma 3: 168M of 268M parameters) llama.cpp keeps it at Q8_0 or Q6_K whatever the
file type, so lowering the file type alone barely shrinks the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from dndtune.errors import DndtuneError

# File type name -> (llama_ftype value, default ggml tensor type). Values are llama.h's
# LLAMA_FTYPE_* and ggml.h's GGML_TYPE_*; the tests check them against gguf-py's enums.
FILE_TYPES: dict[str, tuple[int, str]] = {
    "F32": (0, "F32"),
    "F16": (1, "F16"),
    "BF16": (32, "BF16"),
    "Q8_0": (7, "Q8_0"),
    "Q6_K": (18, "Q6_K"),
    "Q5_K_M": (17, "Q5_K"),
    "Q5_K_S": (16, "Q5_K"),
    "Q5_1": (9, "Q5_1"),
    "Q5_0": (8, "Q5_0"),
    "Q4_K_M": (15, "Q4_K"),
    "Q4_K_S": (14, "Q4_K"),
    "Q4_1": (3, "Q4_1"),
    "Q4_0": (2, "Q4_0"),
    "IQ4_NL": (25, "IQ4_NL"),
    "IQ4_XS": (30, "IQ4_XS"),
    "Q3_K_L": (13, "Q3_K"),
    "Q3_K_M": (12, "Q3_K"),
    "Q3_K_S": (11, "Q3_K"),
    "Q2_K": (10, "Q2_K"),
}

LEGACY_TYPES = ("Q8_0", "Q5_0", "Q4_0")
"""Types every mobile llama.cpp runtime has kernels for (older builds ship no K-quants)."""

EMBEDDING_TYPES = ("Q8_0", "Q6_K", "Q5_0", "Q4_0")
"""Types an embedding rung may lower the token embedding to."""

UNQUANTIZED = ("F32", "F16", "BF16")


@dataclass(frozen=True, order=True)
class Rung:
    """One step of the quant ladder."""

    quant: str
    embedding: str | None = None

    @property
    def label(self) -> str:
        return self.quant if self.embedding is None else f"{self.quant}+emb={self.embedding}"

    @property
    def ftype(self) -> int:
        return FILE_TYPES[self.quant][0]

    @property
    def default_type(self) -> str:
        return FILE_TYPES[self.quant][1]

    @classmethod
    def parse(cls, text: str) -> Rung:
        """``Q4_K_M`` or ``Q4_0+emb=Q4_0`` (case-insensitive)."""
        quant, _, rest = text.strip().upper().partition("+")
        embedding: str | None = None
        if rest:
            key, _, value = rest.partition("=")
            if key != "EMB" or value not in EMBEDDING_TYPES:
                raise DndtuneError(f"bad quant rung {text!r}",
                                   fix=f"write TYPE or TYPE+emb=E with E one of {', '.join(EMBEDDING_TYPES)}")
            embedding = value
        if quant not in FILE_TYPES:
            raise DndtuneError(f"unknown quantization {quant!r}", fix=f"use one of {', '.join(FILE_TYPES)}")
        return cls(quant, embedding)

    def __str__(self) -> str:
        return self.label


def parse_ladder(names: list[str] | tuple[str, ...]) -> list[Rung]:
    return [Rung.parse(name) for name in names]
