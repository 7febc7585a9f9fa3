"""docs/recipes.md's reference is generated from the schema; docs/memory-estimate.md states the constants."""

from __future__ import annotations

from pathlib import Path

from dndtune.env import memory
from dndtune.recipe.docs import main, update_doc

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_recipe_reference_is_fresh() -> None:
    text = (DOCS / "recipes.md").read_text(encoding="utf-8")
    assert update_doc(text) == text, "run: python -m dndtune.recipe.docs --write docs/recipes.md"
    assert main([str(DOCS / "recipes.md"), "--check"]) == 0


def test_reference_covers_every_field() -> None:
    text = (DOCS / "recipes.md").read_text(encoding="utf-8")
    for section in ("base_model", "data", "data.augment", "lora", "train", "target", "output"):
        assert f"### `{section}`" in text
    assert "| `early_stopping_patience` |" in text and "| `qwen3-1.7b` |" in text


def test_memory_doc_states_the_code_constants() -> None:
    text = (DOCS / "memory-estimate.md").read_text(encoding="utf-8")
    assert f"{memory.CHECKPOINT_LIVE_LAYERS} live layers" in text
    assert f"{memory.LOSS_FP32_COPIES} fp32 copies of the logits" in text
    assert f"{memory.LOSS_CHUNK_FP32_COPIES} fp32 blocks of one loss chunk" in text
    assert f"{memory.LOSS_CHUNK_ELEMENTS // 2**20} Mi logit elements" in text
    assert f"x {memory.NF4_BYTES_PER_PARAM}" in text
    assert f"P_lora x {memory.LORA_BYTES_PER_PARAM}" in text
    for (family, width), values in memory.LAYER_BYTES.items():
        row = " | ".join(str(v) for v in values)
        assert row in text, f"{family} {width}-byte row"
