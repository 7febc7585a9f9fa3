"""Tiny real models for the evaluation, play, deploy and registry tests: an HF folder and its GGUF.

The HF model is the training tests' tiny Qwen2 (random weights, locally trained tokenizer, the
official Qwen 2.5 tool template). Its GGUF is made by the export stage's own converter, so the
tests run llama.cpp on exactly the kind of file ``dndtune export`` writes. Qwen rather than Gemma:
the sample scenarios open with a DM narration before any player turn, which the Gemma 3 template
rejects (roles must alternate starting with the user).

``build`` is idempotent per folder, so each test package's session fixture builds once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dndtune.models.profiles import get_profile
from dndtune.train.tiny import save_tiny_model

PROFILE = "qwen2.5-0.5b"


@dataclass(frozen=True)
class TinyModels:
    hf: Path
    gguf: Path


def build(root: Path) -> TinyModels:
    from dndtune.export.convert import convert_hf_to_gguf
    from dndtune.export.toolchain import load_toolchain

    hf = root / "tiny-qwen"
    gguf = root / "tiny-qwen-f16.gguf"
    if not (hf / "config.json").is_file():
        save_tiny_model("qwen2", hf, chat_template=get_profile(PROFILE).chat_template)
    if not gguf.is_file():
        convert_hf_to_gguf(hf, gguf, load_toolchain())
    return TinyModels(hf=hf, gguf=gguf)


def make_run(root: Path, models: TinyModels, name: str = "tiny-run", *, quant: str = "F16",
             scores: dict[str, object] | None = None) -> Path:
    """A run folder shaped like the pipeline's: run.json, merged/, export/<gguf> + model.json, dataset split."""
    import shutil

    from tests.evaluate.samples import eval_jsonl_lines

    run = root / "runs" / name
    (run / "export").mkdir(parents=True, exist_ok=True)
    (run / "dataset").mkdir(exist_ok=True)
    if not (run / "merged").exists():
        shutil.copytree(models.hf, run / "merged")
    file_name = f"{name}-{quant}.gguf"
    shutil.copy2(models.gguf, run / "export" / file_name)
    from dndtune.hashing import sha256_file

    gguf = run / "export" / file_name
    (run / "run.json").write_text(json.dumps({
        "status": "completed", "model": {"path": str(models.hf), "profile": PROFILE},
        "dataset": {"hash": f"hash-of-{name}"}, "recipe": {"output": {"run_name": name}},
    }), encoding="utf-8")
    manifest = {
        "run": name, "file": file_name, "quant": quant, "bytes": gguf.stat().st_size,
        "sha256": sha256_file(gguf), "base_model": str(models.hf), "context_length": 4096,
        "chat_template": get_profile(PROFILE).chat_template, "architecture": "qwen2",
        "llama_cpp": {"llama_cpp_python": "0.3.36", "llama_cpp_commit": "test"},
        "scores": scores or {}, "perf": None,
    }
    (run / "export" / "model.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run / "dataset" / "eval.jsonl").write_text("".join(line + "\n" for line in eval_jsonl_lines()), encoding="utf-8")
    return run
