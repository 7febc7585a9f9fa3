"""Freed tensor memory goes back to the OS after a step (glibc), and the trainer does it on CPU."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dndtune.train.allocator import can_release_freed_memory

pytestmark = pytest.mark.skipif(not can_release_freed_memory(), reason="needs glibc's malloc_trim")

# In a fresh process: raise glibc's mmap threshold the way training does (free one
# 16 MiB block), then leave 4 MiB holes between live tensors, as sequences of different lengths do.
PROGRAM = textwrap.dedent("""
    import json, resource, torch
    from dndtune.train.allocator import release_freed_memory

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    big = torch.ones(4 * 2**20)
    del big
    blocks = [torch.ones(2**20) for _ in range(100)]
    keep = blocks[1::2]
    del blocks
    before = rss()
    release_freed_memory()
    print(json.dumps({"before": before, "after": rss(), "kept": len(keep)}))
""")


def test_release_hands_the_heaps_free_pages_back() -> None:
    run = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=120)
    figures = __import__("json").loads(run.stdout.strip().splitlines()[-1])
    # 50 freed blocks of 4 MiB sat in the heap; at least most of them are returned.
    assert figures["before"] - figures["after"] > 150 * 2**20, figures
