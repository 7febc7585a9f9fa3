"""Session fixtures for the evaluation tests: one tiny HF model and its GGUF, built once.

Torch runs single-threaded here for the same reason as in the training tests: its thread pool
spin-waits, which on a CPU shared with other jobs makes a tiny model slower, not faster.
"""

from __future__ import annotations

import pytest
import torch

from tests.evaluate.models import TinyModels, build

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return build(tmp_path_factory.getbasetemp() / "dndtune-tiny-eval")
