"""Session fixture: the tiny HF model and its GGUF shared with the evaluation tests (built once per package)."""

from __future__ import annotations

import pytest

from tests.evaluate.models import TinyModels, build


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return build(tmp_path_factory.getbasetemp() / "dndtune-tiny-eval")
