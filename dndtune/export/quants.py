"""Ladder rungs: a llama.cpp file type (from :mod:`dndtune.gguf.quant_types`) and its embedding type.

A rung is a file type (``Q4_0``) optionally with the token-embedding type lowered
(``Q4_0+emb=Q4_0``). The embedding is its own rung because in small models with big
vocabularies (Gemma 3: 168M of 268M parameters) llama.cpp keeps it at Q8_0 or Q6_K whatever the
file type, so lowering the file type alone barely shrinks the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from dndtune.errors import DndtuneError
from dndtune.gguf.quant_types import QUANT_TYPES, split_rung


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
        try:
            quant, embedding = split_rung(text)
        except ValueError as exc:
            raise DndtuneError(str(exc), fix="fix the quantization name (target.quant_ladder or --quant)") from None
        return cls(quant, embedding)

    def __str__(self) -> str:
        return self.label


def parse_ladder(names: list[str] | tuple[str, ...]) -> list[Rung]:
    return [Rung.parse(name) for name in names]
