"""Merge a trained LoRA adapter into its base weights: the folder the export stage turns into GGUF.

The base is loaded in float32 whatever it was trained in (with 4-bit QLoRA too: merging into
dequantized NF4 weights would bake the quantization error into every layer), the adapter's
update is added in float32, and only then is the result cast to the saved precision. The folder
holds safetensors weights, the tokenizer with the chat template the model was trained with, and
a generation config that stops at the end-of-turn token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, MergeDone, MergeStarted, NullSink
from dndtune.machine import TrainDtype
from dndtune.train.load import torch_dtype

MERGE_INFO = "dndtune-merge.json"


def merged_dtype(requested: str) -> TrainDtype:
    """float16 only when asked for; else bfloat16 (Gemma 3 activations overflow float16)."""
    if requested == "float16":
        return "float16"
    if requested == "float32":
        return "float32"
    return "bfloat16"


def merge_adapter(base_path: Path, adapter_dir: Path, target: Path, *, dtype: TrainDtype = "bfloat16",
                  chat_template: str | None = None, stop_tokens: Sequence[str] = (),
                  events: EventSink | None = None) -> Path:
    """Write ``base + adapter`` to ``target`` atomically and return ``target``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sink = events or NullSink()
    if not (adapter_dir / "adapter_config.json").is_file():
        raise DndtuneError("no trained adapter to merge", path=str(adapter_dir),
                           fix="run the train stage first")
    sink.emit(MergeStarted(message=f"merging the adapter into {base_path.name} ({dtype})", base=str(base_path),
                           adapter=str(adapter_dir), dtype=dtype))
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged: Any = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged = merged.to(torch_dtype(dtype))
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    stop_ids = _token_ids(tokenizer, stop_tokens)
    if stop_ids:
        merged.generation_config.eos_token_id = stop_ids if len(stop_ids) > 1 else stop_ids[0]
    if tokenizer.pad_token_id is not None:
        merged.generation_config.pad_token_id = tokenizer.pad_token_id
    with atomic_path(target, is_dir=True) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {"base_model": str(base_path), "adapter": str(adapter_dir), "dtype": dtype,
                "stop_tokens": list(stop_tokens)}
        (tmp / MERGE_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in target.rglob("*.safetensors"))
    sink.emit(MergeDone(message=f"merged model written to {target}", path=str(target), bytes=size, dtype=dtype))
    return target


def _token_ids(tokenizer: Any, tokens: Sequence[str]) -> list[int]:
    vocab = tokenizer.get_vocab()
    return [int(vocab[t]) for t in dict.fromkeys(tokens) if t in vocab]
