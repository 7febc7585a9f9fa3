"""Tiny model folders (random weights, locally trained tokenizers) shared by the model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.train.tiny import save_tiny_model


@pytest.fixture(scope="session")
def tiny_gemma_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Gemma 3 folder as the GGUF conversion leaves it before dndtune: no chat template."""
    return save_tiny_model("gemma3", tmp_path_factory.mktemp("models") / "gemma3")


@pytest.fixture(scope="session")
def tiny_qwen_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Qwen2 folder carrying the official Qwen 2.5 template, as hub checkpoints do."""
    from dndtune.models.profiles import get_profile

    template = get_profile("qwen2.5-0.5b").chat_template
    return save_tiny_model("qwen2", tmp_path_factory.mktemp("models") / "qwen2", chat_template=template)
