"""Fixtures for the training tests: tiny models (built once per session) and one CPU thread.

Torch's thread pool spin-waits; on a CPU shared with other jobs two threads make a 100k-parameter
model step take seconds instead of milliseconds, so these tests run single-threaded.
"""

from __future__ import annotations

import torch

from tests.fixtures.tiny_models import tiny_gemma3, tiny_models, tiny_qwen2

torch.set_num_threads(1)

__all__ = ["tiny_gemma3", "tiny_models", "tiny_qwen2"]
