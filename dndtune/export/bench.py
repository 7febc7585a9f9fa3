"""Performance profile of an exported GGUF in llama.cpp: load time, prompt and generation speed, peak RAM.

Measured in a fresh worker process at the target's context length and thread count (capped at
this machine's cores), so the figures are the model's alone and comparable between files.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from dndtune.export.manifest import Perf
from dndtune.export.process import run_llama_worker
from dndtune.export.targets import ExportTarget

GEN_TOKENS = 64


def machine_label() -> str:
    return f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores"


def profile_performance(path: Path, *, n_ctx: int, threads: int, prompt_tokens: int | None = None,
                        gen_tokens: int = GEN_TOKENS) -> Perf:
    prompt = prompt_tokens or min(512, n_ctx // 2)
    result = run_llama_worker("bench", {"model": str(path), "n_ctx": n_ctx, "n_threads": threads,
                                        "prompt_tokens": prompt, "gen_tokens": gen_tokens},
                              what=f"benchmarking {path.name}", path=path)
    return Perf(n_ctx=n_ctx, threads=threads, load_s=float(result["load_s"]),
                prompt_tokens=int(result["prompt_tokens"]), prompt_tps=float(result["prompt_tps"]),
                gen_tokens=int(result["gen_tokens"]), gen_tps=float(result["gen_tps"]),
                peak_rss_bytes=int(result["peak_rss_bytes"]), base_rss_bytes=int(result["base_rss_bytes"]),
                machine=machine_label())


def profile_for_target(path: Path, target: ExportTarget) -> Perf:
    return profile_performance(path, n_ctx=target.n_ctx, threads=target.measure_threads())
