"""EnvReports for machines the tests do not run on (a big GPU, a small laptop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dndtune.env.environment import EnvReport
from dndtune.machine import GpuInfo

GB = 10**9


def fake_env(backend: str = "cpu", *, ram_available: int = 16 * GB, vram_free: int = 24 * GB, capability: int = 8,
             modules: dict[str, bool] | None = None, disk_free: int = 500 * GB, cpu_bf16: bool = True,
             **overrides: Any) -> EnvReport:
    gpus = ()
    if backend == "cuda":
        gpus = (GpuInfo(0, "NVIDIA Test", (capability, 0), 2 * vram_free, vram_free, capability >= 8),)
    values: dict[str, Any] = {
        "python": "3.11.7", "os": "Linux 6", "machine": "x86_64", "torch_version": "2.6.0",
        "backend": backend, "cuda_version": "12.4" if backend == "cuda" else None, "gpus": gpus,
        "cpu_cores": 8, "cpu_physical_cores": 4, "cpu_bf16": cpu_bf16, "ram_total": 2 * ram_available,
        "ram_available": ram_available, "disk_path": Path("/"), "disk_free": disk_free,
        "modules": {"unsloth": False, "bitsandbytes": False, "llama_cpp": False, **(modules or {})},
        "packages": {"torch": "2.6.0"}, "hub_offline": True,
    }
    values.update(overrides)
    return EnvReport(**values)
