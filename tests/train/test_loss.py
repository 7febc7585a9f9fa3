"""The chunked, trained-positions-only loss equals the model's own loss, gradients included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from dndtune.train.loss import linear_cross_entropy, masked_lm_loss


def lora_model(path: Path, softcap: float | None = None) -> Any:
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.config.final_logit_softcapping = softcap
    # Non-zero B so the adapter has gradients on both matrices.
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    return get_peft_model(model, config)


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 500, (2, 48), generator=generator)
    labels = ids.clone()
    labels[:, :20] = -100
    labels[1, 36:] = -100
    mask = torch.ones_like(ids)
    mask[1, 44:] = 0
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("softcap", [None, 30.0])
@pytest.mark.parametrize("num_items", [None, 37])
def test_matches_the_models_own_loss(tiny_gemma3: Path, softcap: float | None, num_items: int | None) -> None:
    model = lora_model(tiny_gemma3, softcap)
    inputs = batch()
    extra = {} if num_items is None else {"num_items_in_batch": num_items}
    reference = model(**inputs, **extra).loss
    reference.backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    ours = masked_lm_loss(model, dict(inputs), num_items)
    assert ours is not None
    ours.backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    for name, grad in want.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, rtol=1e-4, atol=1e-6)


def test_qwen_too(tiny_qwen2: Path) -> None:
    model = lora_model(tiny_qwen2)
    inputs = batch()
    ours = masked_lm_loss(model, dict(inputs))
    assert ours is not None
    torch.testing.assert_close(ours, model(**inputs).loss, rtol=1e-5, atol=1e-6)


def test_chunking_and_trainable_head_gradients() -> None:
    generator = torch.Generator().manual_seed(1)
    hidden = torch.randn(10, 8, generator=generator, requires_grad=True)
    weight = torch.randn(50, 8, generator=generator, requires_grad=True)
    bias = torch.randn(50, generator=generator, requires_grad=True)
    labels = torch.randint(0, 50, (10,), generator=generator)
    reference = F.cross_entropy(torch.tanh((hidden @ weight.T + bias) / 5) * 5, labels, reduction="sum") / 7
    reference.backward()
    want = [t.grad.clone() for t in (hidden, weight, bias)]  # type: ignore[union-attr]
    for t in (hidden, weight, bias):
        t.grad = None
    # 150 elements per chunk = 3 rows of a 50-word vocabulary: four chunks, the last one short.
    ours = linear_cross_entropy(hidden, weight, bias, labels, 7, softcap=5.0, chunk_elements=150)
    (2 * ours).backward()
    torch.testing.assert_close(ours, reference)
    for got, expected in zip((hidden.grad, weight.grad, bias.grad), want, strict=True):
        torch.testing.assert_close(got, 2 * expected)


def test_declines_heads_it_does_not_know(tiny_gemma3: Path) -> None:
    model = lora_model(tiny_gemma3)
    model.config.logit_scale = 0.5
    assert masked_lm_loss(model, batch()) is None


def test_row_weights_scale_each_rows_loss_and_gradient() -> None:
    generator = torch.Generator().manual_seed(2)
    hidden = torch.randn(6, 8, generator=generator, requires_grad=True)
    weight = torch.randn(30, 8, generator=generator)
    labels = torch.randint(0, 30, (6,), generator=generator)
    rows = torch.tensor([1.0, 3.0, 1.0, 1.0, 5.0, 1.0])
    reference = (F.cross_entropy(hidden @ weight.T, labels, reduction="none") * rows).sum() / 4
    reference.backward()
    want = hidden.grad.clone()  # type: ignore[union-attr]
    hidden.grad = None
    ours = linear_cross_entropy(hidden, weight, None, labels, 4, row_weights=rows, chunk_elements=60)
    ours.backward()
    torch.testing.assert_close(ours, reference)
    torch.testing.assert_close(hidden.grad, want)


def test_loss_weights_keep_the_scale_of_the_plain_loss(tiny_gemma3: Path) -> None:
    model = lora_model(tiny_gemma3)
    inputs = batch()
    plain = masked_lm_loss(model, dict(inputs))
    ones = masked_lm_loss(model, dict(inputs), loss_weights=torch.ones_like(inputs["labels"], dtype=torch.float32))
    assert plain is not None and ones is not None
    torch.testing.assert_close(ones, plain)
    # Weighting the positions of one sequence: the loss becomes the weighted mean over trained tokens.
    weights = torch.ones_like(inputs["labels"], dtype=torch.float32)
    weights[0] = 3.0
    weighted = masked_lm_loss(model, dict(inputs), loss_weights=weights)
    assert weighted is not None
    model_loss = model(**inputs).loss
    per_token = _per_token_losses(model, inputs)
    trained = inputs["labels"][:, 1:] != -100
    w = weights[:, 1:][trained]
    torch.testing.assert_close(weighted, (per_token * w).sum() / w.sum(), rtol=1e-5, atol=1e-6)
    assert not torch.isclose(weighted, model_loss)


def _per_token_losses(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits[:, :-1]
    targets = inputs["labels"][:, 1:]
    mask = targets != -100
    return F.cross_entropy(logits[mask].float(), targets[mask], reduction="none")


def test_the_trainers_evaluation_takes_the_chunked_loss(tiny_gemma3: Path, tmp_path: Path) -> None:
    """TRL asks for the loss only in evaluation, so it takes the chunked loss: no full set of logits."""
    from datasets import Dataset
    from trl.trainer.sft_config import SFTConfig

    from dndtune.train.collate import LabelCheckingCollator
    from dndtune.train.sft import fused_loss_available, sft_trainer_class

    if fused_loss_available():
        pytest.skip("TRL's fused LM head computes the loss here")
    model = lora_model(tiny_gemma3)
    inputs = batch()
    rows = [{"input_ids": inputs["input_ids"][i][inputs["attention_mask"][i] == 1].tolist(),
             "labels": inputs["labels"][i][inputs["attention_mask"][i] == 1].tolist()} for i in range(2)]
    args = SFTConfig(output_dir=str(tmp_path), per_device_eval_batch_size=1, use_cpu=True, report_to=[], bf16=False,
                     remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True}, disable_tqdm=True)
    trainer = sft_trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                  eval_dataset=Dataset.from_list(rows), data_collator=LabelCheckingCollator(0))
    head_calls: list[int] = []
    handle = model.get_output_embeddings().register_forward_hook(lambda *_: head_calls.append(1))
    try:
        eval_loss = trainer.evaluate()["eval_loss"]
    finally:
        handle.remove()
    with torch.no_grad():
        want = [model(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]])).loss.item()
                for r in rows]
    assert head_calls == []
    assert eval_loss == pytest.approx(sum(want) / len(want), rel=1e-5)
