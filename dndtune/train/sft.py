"""dndtune's ``SFTTrainer`` subclass: TRL's trainer, with a loss that also works where Triton is missing.

TRL 1.x computes the SFT loss through a fused LM head whose kernel is written in Triton. Triton
ships with CUDA builds of PyTorch only, so on CPU-only and MPS installs TRL leaves the kernel
``None`` and every training step fails with ``'NoneType' object has no attribute 'apply'``.
Where the kernel is missing, this subclass computes the same loss with
:func:`dndtune.train.loss.masked_lm_loss` (trained positions only, chunked, in plain PyTorch), or
with the model's own loss for heads that one does not handle, and keeps TRL's token count, so the
TRL + PEFT engine trains on any device. Where the kernel exists (CUDA, or Unsloth's CPU backend,
which routes it to its own chunked implementation) TRL's path is used unchanged, except that a
batch with loss weights (``train.decision_loss_weight``) always takes the weighted chunked loss.

The class is built on demand from whatever ``trl.SFTTrainer`` is at that moment, so that when
Unsloth is the engine it subclasses Unsloth's patched trainer.
"""

from __future__ import annotations

from typing import Any

from dndtune.train.loss import masked_lm_loss


def fused_loss_available() -> bool:
    """Whether TRL's fused LM-head kernel (or a replacement for it) is importable here."""
    from trl.trainer import utils as trl_utils

    return getattr(trl_utils, "_ChunkedLogProbFunction", None) is not None


def sft_trainer_class() -> type[Any]:
    from transformers import Trainer
    from trl.trainer import sft_trainer

    # Looked up at call time: with Unsloth active this is its patched subclass.
    base: Any = sft_trainer.SFTTrainer

    class DndtuneSFTTrainer(base):  # type: ignore[misc]
        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None, **kwargs: Any) -> Any:
            # The model's forward does not take the weights; only the training loss uses them.
            weights = inputs.pop("loss_weights", None)
            if weights is not None and model.training and not return_outputs:
                count = num_items_in_batch if self.model_accepts_loss_kwargs else None
                weighted = masked_lm_loss(model, inputs, count, loss_weights=weights)
                if weighted is not None:
                    self._count_tokens(inputs)
                    return weighted
                # Not a head the chunked loss handles: the trainer said so before the first step.
            if fused_loss_available():
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch, **kwargs)
            if model.training:
                self._count_tokens(inputs)
            if not return_outputs:
                # Trainer divides by the accumulation steps itself unless the model takes the count.
                count = num_items_in_batch if self.model_accepts_loss_kwargs else None
                loss = masked_lm_loss(model, inputs, count)
                if loss is not None:
                    return loss
            inputs["use_cache"] = False
            hf_loss: Any = Trainer.compute_loss
            return hf_loss(self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

        def _count_tokens(self, inputs: dict[str, Any]) -> None:
            # TRL's own bookkeeping for the logged `num_tokens` (the basis of tokens/s), skipped with its loss.
            mask = inputs.get("attention_mask")
            count = int(mask.sum().item()) if mask is not None else int(inputs["input_ids"].numel())
            self._total_train_tokens += count
            self._metrics["train"]["num_tokens"] = [self._total_train_tokens]

    return DndtuneSFTTrainer
