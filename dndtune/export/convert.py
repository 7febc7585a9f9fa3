"""HF folder -> unquantized GGUF with llama.cpp's pinned converter (chat template and special tokens included)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dndtune.atomic import atomic_path, write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.events import Converted, Converting, EventSink, NullSink
from dndtune.export.process import last_error_line, run_process
from dndtune.export.toolchain import Toolchain, converter_env

OutType = Literal["f16", "bf16", "f32"]
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_EXIT_MESSAGES = {
    3: ("the converter does not support this architecture", "dndtune exports Gemma 2/3 and Qwen 2/2.5/3"),
    4: ("llama.cpp does not recognise this tokenizer's pre-tokenizer",
        "use the base model's own tokenizer (custom BPE tokenizers need a byte-level or Qwen2 pre-tokenizer)"),
}


@dataclass(frozen=True)
class ConvertResult:
    path: Path
    outtype: OutType
    seconds: float
    bytes: int
    source_fingerprint: str


def check_hf_folder(folder: Path) -> None:
    """Fail with the fix when ``folder`` is not a complete HF model folder."""
    if not folder.is_dir():
        raise DndtuneError("merged model folder not found", path=str(folder),
                           fix="train the run first (dndtune --recipe RECIPE), or point RUN at a run folder")
    if not (folder / "config.json").is_file():
        raise DndtuneError("no config.json in the merged model folder", path=str(folder),
                           fix="re-run the merge step of training")
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir()):
        raise DndtuneError("no weights (*.safetensors) in the merged model folder", path=str(folder),
                           fix="re-run the merge step of training")
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer.model").is_file():
        raise DndtuneError("no tokenizer in the merged model folder", path=str(folder),
                           fix="save the tokenizer (with its chat template) next to the merged weights")


def check_tokenizer_convertible(folder: Path) -> None:
    """Fail early on a vocabulary llama.cpp's converter cannot carry over faithfully.

    A Unigram ``tokenizer.json`` without ``tokenizer.model`` is what transformers writes when it
    builds a Gemma tokenizer from a GGUF: the converter would store it as a BPE vocabulary with no
    merges, and llama.cpp would then split every word into single characters.
    """
    if (folder / "tokenizer.model").is_file() or not (folder / "tokenizer.json").is_file():
        return
    try:
        with (folder / "tokenizer.json").open(encoding="utf-8") as handle:
            kind = json.load(handle).get("model", {}).get("type")
    except (OSError, json.JSONDecodeError, AttributeError):
        return
    if kind == "Unigram":
        raise DndtuneError(
            "tokenizer.json holds a Unigram model and there is no tokenizer.model: llama.cpp's converter "
            "cannot carry that vocabulary over", path=str(folder / "tokenizer.json"),
            fix="save the base model's original tokenizer (tokenizer.model, or a BPE tokenizer.json with merges) "
                "with the merged weights")


def source_fingerprint(folder: Path) -> str:
    """Identifies a merged folder's contents cheaply (names, sizes, mtimes), to reuse an earlier conversion."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def convert_hf_to_gguf(folder: Path, out: Path, toolchain: Toolchain, *, outtype: OutType = "f16",
                       events: EventSink | None = None, timeout: float | None = None) -> ConvertResult:
    """Convert ``folder`` to ``out`` (atomically: ``out`` is only replaced by a complete file)."""
    sink = events or NullSink()
    check_hf_folder(folder)
    check_tokenizer_convertible(folder)
    fingerprint = source_fingerprint(folder)
    sink.emit(Converting(message=f"converting {folder.name} to {outtype} GGUF", source=str(folder), outtype=outtype))
    start = time.perf_counter()
    with atomic_path(out) as tmp:
        proc = run_process(
            [sys.executable, "-m", "dndtune.export.convert_worker", str(folder), str(tmp),
             "--outtype", outtype, "--fallback-pre", "auto", "--model-name", folder.parent.name or folder.name],
            what="HF -> GGUF conversion", path=folder, env=converter_env(toolchain), timeout=timeout, check=False,
        )
        if proc.returncode != 0:
            message, fix = _EXIT_MESSAGES.get(proc.returncode, (last_error_line(proc.stderr), None))
            if "No module named 'sentencepiece'" in proc.stderr:
                fix = "pip install sentencepiece (this model ships a tokenizer.model vocabulary)"
            raise DndtuneError(f"HF -> GGUF conversion failed: {message}", path=str(folder), fix=fix)
        if tmp.stat().st_size == 0:
            raise DndtuneError("the converter wrote an empty file", path=str(folder), fix="see the converter log")
    seconds = time.perf_counter() - start
    result = ConvertResult(path=out, outtype=outtype, seconds=seconds, bytes=out.stat().st_size,
                           source_fingerprint=fingerprint)
    sink.emit(Converted(message=f"{outtype} GGUF: {result.bytes / 1e6:.1f} MB in {seconds:.1f} s", bytes=result.bytes,
                        seconds=seconds))
    return result


def cached_conversion(folder: Path, out: Path) -> ConvertResult | None:
    """An earlier conversion of the same merged folder, when ``out`` and its stamp still match it."""
    stamp = out.with_suffix(".json")
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not out.is_file() or data.get("source_fingerprint") != source_fingerprint(folder):
        return None
    if data.get("bytes") != out.stat().st_size:
        return None
    return ConvertResult(path=out, outtype=data["outtype"], seconds=float(data["seconds"]), bytes=int(data["bytes"]),
                         source_fingerprint=data["source_fingerprint"])


def write_conversion_stamp(result: ConvertResult) -> None:
    write_text_atomic(result.path.with_suffix(".json"), json.dumps({
        "outtype": result.outtype, "seconds": result.seconds, "bytes": result.bytes,
        "source_fingerprint": result.source_fingerprint,
    }, indent=2) + "\n")
