"""Acceptance: the shipped demo recipe trains the real Gemma 3 270M on the shipped scenarios.

A few steps only (the README gives the wall time of the full recipe). The run happens in a child
process, as ``dndtune --recipe`` would: the demo's ``engine: auto`` may import Unsloth, which
patches the process it is imported in. The test then checks the merged model reloads with plain
transformers and writes a game-master reply.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, sys
    from dndtune.events import ListSink
    from dndtune.pipeline import build_pipeline
    from dndtune.recipe.loader import load_recipe

    recipe = load_recipe("demo-cpu", sys.argv[1:])
    sink = ListSink()
    result = build_pipeline(recipe, sink).run(stages=["merge"])
    print(json.dumps({
        "status": result.status, "merged": str(result.merged), "engine": result.context.engine.name,
        "losses": [e.data["loss"] for e in sink.events if e.kind == "train.step"],
        "labels": [e.data for e in sink.events if e.kind == "train.labels"],
    }))
""")


@pytest.mark.slow
def test_demo_recipe_trains_the_real_gemma_270m(tmp_path: Path) -> None:
    # Kept to a couple of minutes on a small shared CPU: fewer, shorter steps, one scenario per
    # category, no checkpointing recompute; everything else is the shipped recipe.
    overrides = ["train.max_steps=3", "train.save_steps=3", "train.eval_steps=3", "train.grad_accum=1",
                 "train.gradient_checkpointing=false", "data.augment.enabled=false", "data.max_per_category=1",
                 f"output.dir={tmp_path}"]
    done = subprocess.run([sys.executable, "-c", CHILD, *overrides], cwd=ROOT, capture_output=True, text=True,
                          timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed"
    assert len(result["losses"]) == 3 and all(math.isfinite(v) for v in result["losses"])
    train_labels = result["labels"][0]
    assert train_labels["split"] == "train" and train_labels["trained_tokens"] > 0

    merged = Path(result["merged"])
    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
    messages = [{"role": "system", "content": "Role: Dungeon Master."},
                {"role": "user", "content": "I push open the tavern door."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert reply.strip()
