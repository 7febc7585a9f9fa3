"""The peak-memory estimator: its shape, and its figure against a measured training peak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dndtune.env.memory import LOSS_CHUNK_ELEMENTS, LOSS_CHUNK_FP32_COPIES, LOSS_FP32_COPIES, estimate_peak_memory
from dndtune.models.profiles import get_profile, profile_from_config
from dndtune.recipe.loader import load_recipe
from dndtune.recipe.schema import Recipe

MEASURE = Path(__file__).with_name("measure_peak.py")
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def recipe(**sections: Any) -> Recipe:
    data: dict[str, Any] = {"base_model": {"profile": "gemma-3-270m"}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Recipe.model_validate(data)


def total(r: Recipe, backend: str = "cpu", profile: str = "gemma-3-270m") -> int:
    return estimate_peak_memory(r, get_profile(profile), backend=backend, bf16_supported=True).total  # type: ignore[arg-type]


def test_estimate_moves_the_right_way() -> None:
    base = total(recipe())
    assert total(recipe(train={"batch_size": 2})) > base
    assert total(recipe(data={"max_seq_length": 2048})) > base
    assert total(recipe(train={"gradient_checkpointing": False})) > base
    assert total(recipe(lora={"r": 64})) > base
    assert total(recipe(base_model={"dtype": "float32"})) > base
    assert total(recipe(base_model={"profile": "qwen3-1.7b"}), profile="qwen3-1.7b") > base


def test_the_loss_is_counted_a_chunk_at_a_time_as_it_is_computed() -> None:
    from dndtune.train.loss import CHUNK_ELEMENTS

    assert LOSS_CHUNK_ELEMENTS == CHUNK_ELEMENTS
    long = estimate_peak_memory(recipe(data={"max_seq_length": 2048}), get_profile("gemma-3-270m"), backend="cpu",
                                bf16_supported=True)
    assert long.logits == CHUNK_ELEMENTS * (2 + 4 * LOSS_CHUNK_FP32_COPIES)
    # An adapted lm_head is not a plain Linear: the model's own loss over the full logits.
    head = recipe(data={"max_seq_length": 2048},
                  lora={"target_modules": ["q_proj", "v_proj", "lm_head"]})
    full = estimate_peak_memory(head, get_profile("gemma-3-270m"), backend="cpu", bf16_supported=True)
    assert full.logits == 2048 * get_profile("gemma-3-270m").dims.vocab_size * (2 + 4 * LOSS_FP32_COPIES)


def test_the_demo_recipe_fits_a_16_gb_machine() -> None:
    """The demo trains in ~6 GB; counting the plain loss's full logits once put it at 15.2 GB."""
    demo = load_recipe(str(RECIPES / "demo-cpu.yaml"))
    estimate = estimate_peak_memory(demo, get_profile(demo.base_model.profile or ""), backend="cpu",
                                    bf16_supported=True)
    assert 4e9 < estimate.total < 0.85 * 14e9


def test_four_bit_shrinks_weights_but_not_embeddings() -> None:
    profile = get_profile("gemma-3-1b")
    full = estimate_peak_memory(recipe(base_model={"profile": "gemma-3-1b"}), profile, backend="cuda",
                                bf16_supported=True)
    qlora = estimate_peak_memory(recipe(base_model={"profile": "gemma-3-1b", "load_in_4bit": True}), profile,
                                 backend="cuda", bf16_supported=True)
    embeddings = profile.dims.vocab_size * profile.dims.hidden_size * 2
    assert embeddings < qlora.weights < full.weights / 2
    assert qlora.dtype == "bfloat16"


def test_breakdown_adds_up() -> None:
    e = estimate_peak_memory(recipe(), get_profile("gemma-3-270m"), backend="cpu", bf16_supported=True)
    assert e.total == e.weights + e.lora + e.activations + e.attention + e.logits + e.overhead
    assert e.training == e.total - e.overhead
    assert e.as_dict()["total"] == e.total
    assert e.tokens == 1024 and e.lora_params == get_profile("gemma-3-270m").dims.lora_params(16, [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    eager = estimate_peak_memory(recipe(), get_profile("gemma-3-270m"), backend="cpu", bf16_supported=True,
                                 attn_implementation="eager")
    assert eager.attention > 0 and e.attention == 0


# Two small Gemma 3 shapes: one where the loss over the vocabulary dominates (like the real 270M),
# one where the decoder layers' activations do (like the 1B and larger models).
LOGIT_HEAVY = {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 4,
               "num_key_value_heads": 1, "head_dim": 64, "vocab_size": 32000}
LAYER_HEAVY = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 6, "num_attention_heads": 8,
               "num_key_value_heads": 2, "head_dim": 64, "vocab_size": 2048}


@pytest.mark.parametrize(("shape", "dtype", "checkpointing", "batch", "seq"), [
    (LOGIT_HEAVY, "float32", True, 2, 512),
    (LOGIT_HEAVY, "bfloat16", False, 1, 256),
    (LAYER_HEAVY, "float32", False, 2, 512),
    (LAYER_HEAVY, "bfloat16", True, 2, 512),
], ids=["logits-fp32-ckpt", "logits-bf16", "layers-fp32", "layers-bf16-ckpt"])
def test_estimate_is_within_a_factor_of_two_of_the_measured_peak(shape: dict[str, int], dtype: str,
                                                                  checkpointing: bool, batch: int, seq: int) -> None:
    """Peak RSS growth over 2 LoRA steps (fresh process) vs the estimate without the runtime baseline."""
    config = {**shape, "max_position_embeddings": 1024, "sliding_window": 128}
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    args = {"config": config, "dtype": dtype, "r": 8, "dropout": 0.05, "targets": targets,
            "checkpointing": checkpointing, "batch": batch, "seq": seq, "steps": 2}
    run = subprocess.run([sys.executable, str(MEASURE), json.dumps(args)], capture_output=True, text=True,
                         check=True, timeout=300)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    measured = figures["peak"] - figures["baseline"]

    profile = profile_from_config({**config, "model_type": "gemma3_text"})
    r = recipe(base_model={"dtype": dtype}, lora={"r": 8, "dropout": 0.05},
               data={"max_seq_length": seq}, train={"batch_size": batch, "gradient_checkpointing": checkpointing})
    estimate = estimate_peak_memory(r, profile, backend="cpu", bf16_supported=True)
    ratio = estimate.training / measured
    assert 0.5 <= ratio <= 2.0, f"estimate {estimate.training / 1e6:.0f} MB vs measured {measured / 1e6:.0f} MB"
