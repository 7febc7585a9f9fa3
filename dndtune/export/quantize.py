"""Quantize a GGUF with llama.cpp's ``llama_model_quantize`` (run in the llama worker subprocess)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError
from dndtune.export.process import last_error_line, run_llama_worker
from dndtune.export.quants import Rung


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    rung: Rung
    bytes: int
    seconds: float


def ggml_type_id(name: str) -> int:
    from gguf import GGMLQuantizationType

    return int(GGMLQuantizationType[name])


def quantize_gguf(src: Path, dst: Path, rung: Rung, *, threads: int | None = None,
                  prune_layers: tuple[int, ...] = (), timeout: float | None = None) -> QuantizeResult:
    """Write ``dst`` as ``rung`` of ``src``; ``dst`` is replaced only by a complete file."""
    if not src.is_file():
        raise DndtuneError("source GGUF not found", path=str(src), fix="convert the merged model first")
    with atomic_path(dst) as tmp:
        result = run_llama_worker("quantize", {
            "src": str(src), "dst": str(tmp), "ftype": rung.ftype,
            "nthread": threads or os.cpu_count() or 1,
            "token_embedding_type": ggml_type_id(rung.embedding) if rung.embedding else None,
            "prune_layers": list(prune_layers),
        }, what=f"quantizing to {rung.label}", path=src, timeout=timeout)
        if result.get("rc") != 0 or tmp.stat().st_size == 0:

            raise DndtuneError(f"quantizing to {rung.label} failed: {last_error_line(result.get('stderr_tail', ''))}",
                               path=str(src), fix="check free disk space; re-export to rebuild the f16 GGUF")
    return QuantizeResult(path=dst, rung=rung, bytes=dst.stat().st_size, seconds=float(result["seconds"]))
