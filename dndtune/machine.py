"""What this machine offers a training run: one probe, one backend type, one precision rule.

:func:`probe_machine` is the only place dndtune asks torch, NVML, psutil and the OS about the
hardware; the doctor (:mod:`dndtune.env`) and the engine choice (:mod:`dndtune.train.engine`)
both read its :class:`MachineFacts`. Optional engines (Unsloth, bitsandbytes, llama.cpp) are
looked up with ``importlib.util.find_spec``, never imported: importing Unsloth patches
transformers, TRL and PEFT, which must only happen once the engine is chosen.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

Backend = Literal["cuda", "mps", "cpu"]
TrainDtype = Literal["float32", "bfloat16", "float16"]
RequestedDtype = Literal["auto", "float32", "bfloat16", "float16"]

OPTIONAL_MODULES = ("unsloth", "unsloth_zoo", "bitsandbytes", "llama_cpp", "pynvml")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    capability: tuple[int, int]
    total_bytes: int
    free_bytes: int
    bf16: bool
    """Native bfloat16 (compute capability 8.0+, Ampere and later)."""


@dataclass(frozen=True)
class MachineFacts:
    """The hardware, torch's view of it, and which optional engines are importable."""

    python: str
    os: str
    machine: str
    torch_version: str | None
    backend: Backend
    cuda_version: str | None
    gpus: tuple[GpuInfo, ...]
    cpu_cores: int
    cpu_physical_cores: int | None
    cpu_bf16: bool
    ram_total: int
    ram_available: int
    disk_path: Path
    disk_free: int
    modules: dict[str, bool] = field(default_factory=dict)
    """Optional engines: whether each is importable (found, not imported)."""

    @property
    def bf16_supported(self) -> bool:
        """bfloat16 compute is native: an Ampere+ GPU, or a CPU with AVX512-BF16 / AMX (never MPS)."""
        if self.backend == "cuda":
            return bool(self.gpus) and self.gpus[0].bf16
        return self.backend == "cpu" and self.cpu_bf16

    @property
    def device_name(self) -> str:
        if self.backend == "cuda" and self.gpus:
            return self.gpus[0].name
        return "Apple MPS" if self.backend == "mps" else "CPU"

    @property
    def available_memory(self) -> int:
        """Memory a run can use: free VRAM of the first GPU on CUDA, else available RAM."""
        if self.backend == "cuda" and self.gpus:
            return self.gpus[0].free_bytes
        return self.ram_available

    @property
    def memory_label(self) -> str:
        return "VRAM" if self.backend == "cuda" else "RAM"

    def has(self, module: str) -> bool:
        """Whether the optional module ``module`` is importable here."""
        return bool(self.modules.get(module))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["disk_path"] = str(self.disk_path)
        data["bf16_supported"] = self.bf16_supported
        data["available_memory"] = self.available_memory
        return data


def pick_dtype(requested: RequestedDtype, backend: Backend, bf16_supported: bool) -> TrainDtype:
    """The precision ``dtype: auto`` means here: bf16 where the device does it natively.

    CUDA without bf16 (before Ampere) gets float16; MPS trains in float32, where its kernels are
    complete (bf16 autograd on MPS still misses several ops). An explicit precision is returned
    as is: whether it can run is the caller's question (the engine refuses, the doctor warns).
    """
    if requested != "auto":
        return requested
    if backend == "cuda":
        return "bfloat16" if bf16_supported else "float16"
    if backend == "cpu" and bf16_supported:
        return "bfloat16"
    return "float32"


def is_installed(module: str) -> bool:
    """True when ``module`` can be found; never imports it (Unsloth's import has side effects)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def probe_machine(disk_path: Path | None = None) -> MachineFacts:
    """Facts about Python, torch and its backend, CPU, RAM, the disk holding ``disk_path`` (default:
    the working directory) and the optional engines."""
    torch = _import_torch()
    torch_version: str | None = None
    backend: Backend = "cpu"
    cuda_version: str | None = None
    gpus: tuple[GpuInfo, ...] = ()
    if torch is not None:
        torch_version = str(torch.__version__)
        if torch.cuda.is_available():
            backend = "cuda"
            cuda_version = torch.version.cuda
            gpus = _cuda_devices(torch)
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            backend = "mps"
    memory = psutil.virtual_memory()
    disk = _existing_parent(disk_path if disk_path is not None else Path.cwd())
    return MachineFacts(
        python=platform.python_version(),
        os=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        torch_version=torch_version,
        backend=backend,
        cuda_version=cuda_version,
        gpus=gpus,
        cpu_cores=os.cpu_count() or 1,
        cpu_physical_cores=psutil.cpu_count(logical=False),
        cpu_bf16=cpu_has_native_bf16(torch),
        ram_total=memory.total,
        ram_available=memory.available,
        disk_path=disk,
        disk_free=shutil.disk_usage(disk).free,
        modules={name: is_installed(name) for name in OPTIONAL_MODULES},
    )


def cpu_has_native_bf16(torch: Any = None) -> bool:
    """AVX512-BF16 or AMX: the CPU runs bf16 matmuls natively (elsewhere bf16 is emulated and slower).

    torch's own CPU feature check decides, since torch is what will run the matmuls; without torch
    (the doctor still reports) Linux's /proc/cpuinfo flags are read instead.
    """
    if torch is not None:
        cpu = getattr(torch, "cpu", None)
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def _import_torch() -> Any:
    # Imported here, not at the top: torch takes seconds to import, and the scenario tools never need it.
    try:
        import torch
    except ImportError:
        return None
    return torch


def _cuda_devices(torch: Any) -> tuple[GpuInfo, ...]:
    free_total = _nvml_memory() if is_installed("pynvml") else None
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        if free_total is not None and index < len(free_total):
            free, total = free_total[index]
        else:
            free, total = torch.cuda.mem_get_info(index)
        devices.append(GpuInfo(
            index=index, name=str(props.name), capability=(int(props.major), int(props.minor)),
            total_bytes=int(total), free_bytes=int(free), bf16=int(props.major) >= 8,
        ))
    return tuple(devices)


def _nvml_memory() -> list[tuple[int, int]] | None:
    # NVML reads memory without creating a CUDA context (which itself takes ~300 MB of VRAM).
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            result = []
            for index in range(pynvml.nvmlDeviceGetCount()):
                info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index))
                result.append((int(info.free), int(info.total)))
            return result
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing or failing is not a problem: torch's figures are used instead
        return None


def _existing_parent(path: Path) -> Path:
    current = path.resolve()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def peak_rss_bytes() -> int:
    """Peak resident memory of this process's own address space.

    On Linux ``ru_maxrss`` survives fork + exec, so a child started by a process holding a torch
    model would report the parent's size; ``VmHWM`` belongs to the address space exec created.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # not on Windows

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if platform.system() == "Darwin" else peak * 1024)
