"""Memory in use right now, sampled by the app while a run trains in this process.

On CUDA this is torch's allocated and reserved memory of the training device; elsewhere the
process's resident RAM. torch is only asked when the pipeline has already imported it and set
up CUDA, so the sampler never loads torch or creates a CUDA context on its own.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class MemorySample:
    device: str
    """"GPU 0" or "RAM": what the figures measure."""
    used: int
    reserved: int | None
    """CUDA caching-allocator reservation (None on CPU)."""
    total: int | None


def sample_memory() -> MemorySample:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        index = torch.cuda.current_device()
        return MemorySample(device=f"GPU {index}", used=int(torch.cuda.memory_allocated(index)),
                            reserved=int(torch.cuda.memory_reserved(index)),
                            total=int(torch.cuda.get_device_properties(index).total_memory))
    return MemorySample(device="RAM", used=int(psutil.Process().memory_info().rss), reserved=None,
                        total=int(psutil.virtual_memory().total))
