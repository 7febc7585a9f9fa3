"""Measure the peak RSS of a few LoRA training steps on a small Gemma 3 built from a config.

The loss is dndtune's (:func:`dndtune.train.loss.masked_lm_loss`, chunked over the vocabulary), as
every training engine computes it (TRL's fused head on CUDA is chunked the same way); ``"loss":
"model"`` measures the model's own loss, which materialises the full logits, for comparison.

Run as a script in a fresh process (``python measure_peak.py '<json args>'``) so the peak belongs
to this run alone; prints one JSON line with the RSS before the model exists and the peak after.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main(args: dict[str, Any]) -> dict[str, int]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig

    from dndtune.machine import peak_rss_bytes
    from dndtune.train.allocator import release_freed_memory
    from dndtune.train.loss import masked_lm_loss

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.ones(64, 64) @ torch.ones(64, 64)  # start torch's runtime before the baseline
    baseline = rss_now()
    config = Gemma3TextConfig(**args.get("config", {}))
    dtype = getattr(torch, args.get("dtype", "float32"))
    if args.get("model_path"):
        # A real checkpoint (e.g. the converted Gemma 3 270M) for the benchmark figure in the docs.
        model = AutoModelForCausalLM.from_pretrained(args["model_path"], dtype=dtype)
        config = model.config
    else:
        # Built directly in the training dtype, as from_pretrained(dtype=...) loads it: no fp32 copy.
        torch.set_default_dtype(dtype)
        model = Gemma3ForCausalLM(config)
        torch.set_default_dtype(torch.float32)
    model = get_peft_model(model, LoraConfig(r=args["r"], lora_alpha=2 * args["r"], lora_dropout=args["dropout"],
                                             target_modules=args["targets"], task_type="CAUSAL_LM"))
    if args["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch, seq = args["batch"], args["seq"]
    for _ in range(args["steps"]):
        ids = torch.randint(5, config.vocab_size, (batch, seq))
        labels = ids.clone()
        # Assistant-only labels: roughly the trained share of a scenario window.
        labels[:, : int(seq * (1 - args.get("trained_share", 0.5)))] = -100
        if args.get("loss") == "model":
            loss = model(input_ids=ids, labels=labels).loss
        else:
            loss = masked_lm_loss(model, {"input_ids": ids, "labels": labels})
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        release_freed_memory()  # as the trainer does after every step
    return {"baseline": baseline, "peak": peak_rss_bytes()}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
