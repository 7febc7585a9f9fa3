"""The batch collator: TRL's padding collator plus a guard against batches with nothing to learn."""

from __future__ import annotations

from typing import Any

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
        return batch
