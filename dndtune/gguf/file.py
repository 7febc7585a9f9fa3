"""Read an exported GGUF's metadata and check it is whole: tensor data within the file, sha256 as recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError
from dndtune.gguf.header import read_header, tensor_nbytes
from dndtune.hashing import sha256_file

_FIX = "delete it and run dndtune export again"


@dataclass(frozen=True)
class GgufSummary:
    path: Path
    architecture: str
    name: str | None
    context_length: int | None
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    eot_token_id: int | None
    file_type: int | None
    tensor_types: dict[str, str] = field(repr=False)

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for type_name in self.tensor_types.values():
            counts[type_name] = counts.get(type_name, 0) + 1
        return counts


def read_gguf(path: Path) -> GgufSummary:
    """Metadata and tensor types of ``path``; a truncated or malformed file raises :class:`DndtuneError`."""

    if not path.is_file():
        raise DndtuneError("GGUF file not found", path=str(path), fix="run dndtune export first")
    header = read_header(path)
    try:
        end = max((header.data_offset + t.offset + tensor_nbytes(t) for t in header.tensors), default=0)
    except (KeyError, ValueError) as exc:
        raise DndtuneError(f"corrupt GGUF tensor table ({exc})", path=str(path), fix=_FIX) from None
    tensor_types = {t.name: t.type for t in header.tensors}
    size = path.stat().st_size
    if end > size or not tensor_types:
        raise DndtuneError(f"truncated GGUF: tensor data needs {end} bytes, the file has {size}", path=str(path),
                           fix=_FIX)
    meta = header.metadata
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise DndtuneError("GGUF has no general.architecture", path=str(path), fix=_FIX)
    ctx = meta.get(f"{arch}.context_length")
    template = meta.get("tokenizer.chat_template")
    return GgufSummary(
        path=path,
        architecture=arch,
        name=meta.get("general.name") if isinstance(meta.get("general.name"), str) else None,
        context_length=int(ctx) if isinstance(ctx, int) else None,
        chat_template=template if isinstance(template, str) else None,
        bos_token_id=_int(meta.get("tokenizer.ggml.bos_token_id")),
        eos_token_id=_int(meta.get("tokenizer.ggml.eos_token_id")),
        eot_token_id=_int(meta.get("tokenizer.ggml.eot_token_id")),
        file_type=_int(meta.get("general.file_type")),
        tensor_types=tensor_types,
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def check_sha256(path: Path, expected: str) -> None:
    """Raise when ``path`` no longer matches the digest its manifest recorded (bit rot, partial copy)."""
    actual = sha256_file(path)
    if actual != expected:
        raise DndtuneError(f"GGUF does not match its manifest (sha256 {actual[:12]}... != {expected[:12]}...)",
                           path=str(path), fix=_FIX)
