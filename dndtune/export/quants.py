"""Ladder rungs: a llama.cpp file type (from :mod:`dndtune.gguf.quant_types`) and its embedding type.

A rung is a file type (``Q4_0``) optionally with the token-embedding type lowered
(``Q4_0+emb=Q4_0``). The embedding is its own rung because in small models with big
vocabularies (Gemma 3: 168M of 268M parameters) llama.cpp keeps it at Q8_0 or Q6_K whatever the
file type, so lowering the file type alone barely shrinks the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from dndtune.errors import DndtuneError
from dndtune.gguf.quant_types import EMBEDDING_TYPES, QUANT_TYPES


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
        return QUANT_TYPES[self.quant].ftype

    @property
    def default_type(self) -> str:
        return QUANT_TYPES[self.quant].tensor_type

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
        if quant not in QUANT_TYPES:
            raise DndtuneError(f"unknown quantization {quant!r}", fix=f"use one of {', '.join(QUANT_TYPES)}")
        return cls(quant, embedding)

    def __str__(self) -> str:
        return self.label


def parse_ladder(names: list[str] | tuple[str, ...]) -> list[Rung]:
    return [Rung.parse(name) for name in names]
