"""The batch collator: TRL's padding, loss weights padded alike, and a guard against batches with nothing to learn."""

from __future__ import annotations

from typing import Any

import torch
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from dndtune.errors import DndtuneError
from dndtune.train.tokenize import IGNORE_INDEX


class LabelCheckingCollator(DataCollatorForLanguageModeling):
    """Pads like TRL's collator and refuses a batch whose labels are all ``-100``.

    Tokenization already drops conversations without assistant tokens, so this only fires if a
    later change breaks that guarantee; silently training on a zero loss is the failure users of
    other tools hit most, so it is checked where the batch is actually formed.
    """

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = super().torch_call(examples)
        if not bool((batch["labels"] != IGNORE_INDEX).any()):
            raise DndtuneError(f"a batch of {len(examples)} conversation(s) has no trainable (assistant) token",
                               fix="check the dataset's assistant turns and data.max_seq_length")
        if "loss_weights" in examples[0]:
            batch["loss_weights"] = _pad_right([example["loss_weights"] for example in examples], batch["labels"])
        return batch


def _pad_right(rows: list[list[float]], like: torch.Tensor) -> torch.Tensor:
    """Per-token loss weights padded as TRL pads the labels (on the right); padding weighs 1 and is masked anyway."""
    out = torch.ones(like.shape, dtype=torch.float32)
    for index, row in enumerate(rows):
        out[index, : len(row)] = torch.as_tensor(row, dtype=torch.float32)
    return out
