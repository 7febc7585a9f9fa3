"""``model.json``: what an exported GGUF is, where it came from, how it scored and what it costs to run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError

SCHEMA_VERSION = 1


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuantTry(_Part):
    rung: str = Field(description="Quant rung label, e.g. Q4_K_M or Q4_0+emb=Q4_0.")
    predicted_bytes: int
    fits: bool = Field(description="Whether the predicted size is within the limit.")
    actual_bytes: int | None = Field(default=None, description="Real file size (None when skipped by prediction).")
    quantize_s: float | None = None
    perplexity: float | None = Field(default=None, description="Held-out DM-turn perplexity in llama.cpp.")
    fallbacks: int = Field(default=0, description="Tensors that took a fallback type (row length vs block size).")
    outcome: str = Field(description="skipped | too-big | chosen | passed | gate-failed | superseded | not-tried "
                         "(prefer: smallest found a smaller file within the gate first).")
    scores: dict[str, float | None] | None = Field(
        default=None, description="The task gate's held-out scores of this file (target.gate.scores).")
    gate_failures: list[str] = Field(default_factory=list, description="Why the file is outside the gate.")


class Perf(_Part):
    n_ctx: int
    threads: int
    load_s: float
    prompt_tokens: int
    prompt_tps: float
    gen_tokens: int
    gen_tps: float
    peak_rss_bytes: int
    base_rss_bytes: int
    machine: str


class ExportManifest(_Part):
    schema_version: int = SCHEMA_VERSION
    created_at: str
    run: str
    run_dir: str
    base_model: str | None
    target: dict[str, Any]
    file: str = Field(description="GGUF file name, next to this manifest.")
    quant: str
    file_type: int | None
    token_embedding_type: str | None
    bytes: int
    sha256: str
    size_limit: int
    llama_cpp: dict[str, str] = Field(
        description="llama-cpp-python version and llama.cpp commit (converter and runtime).")
    architecture: str
    context_length: int | None
    chat_template: str | None
    special_tokens: dict[str, Any]
    tensor_types: dict[str, int]
    fallback_tensors: list[str]
    ladder: list[QuantTry]
    quality_gate: float | None
    scores: dict[str, Any] = Field(description="perplexity, logit parity, eval scores of the run when present.")
    verify: list[dict[str, Any]]
    samples: dict[str, str]
    perf: Perf | None
    timings: dict[str, float]
    source: dict[str, str]
    pruning: dict[str, Any] | None = None
    gate: dict[str, Any] | None = Field(
        default=None, description="The task gate: prefer, scores, tolerance, turns, and the f16 file's and "
        "the chosen file's scores and sizes (null when no file was evaluated).")


def write_manifest(path: Path, manifest: ExportManifest) -> None:
    write_text_atomic(path, manifest.model_dump_json(indent=2) + "\n")


def read_manifest(path: Path) -> ExportManifest:
    try:
        return ExportManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError:
        raise DndtuneError("no export manifest", path=str(path), fix="run dndtune export RUN first") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DndtuneError(f"invalid manifest: {where}: {first['msg']}", path=str(path),
                           fix="run dndtune export RUN again") from None
