"""Acceptance: the shipped demo recipe trains the real Gemma 3 270M on the shipped scenarios.

A few steps only (the README gives the wall time of the full recipe); checks that the loss is
finite, the merged model reloads and generates a reply in the chat format.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from dndtune.events import ListSink
from dndtune.pipeline import build_pipeline
from dndtune.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_recipe_trains_the_real_gemma_270m(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    recipe = load_recipe("demo-cpu", [
        "train.max_steps=3", "train.save_steps=3", "train.eval_steps=3", "train.grad_accum=1",
        "data.augment.enabled=false", f"output.dir={tmp_path}",
    ])
    sink = ListSink()
    result = build_pipeline(recipe, sink).run(stages=["merge"])
    assert result.status == "completed"
    losses = [e.data["loss"] for e in sink.events if e.kind == "train.step"]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)

    assert result.merged is not None
    tokenizer = AutoTokenizer.from_pretrained(result.merged)
    model = AutoModelForCausalLM.from_pretrained(result.merged, dtype=torch.float32)
    messages = [{"role": "system", "content": "Role: Dungeon Master."},
                {"role": "user", "content": "I push open the tavern door."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert reply.strip()
