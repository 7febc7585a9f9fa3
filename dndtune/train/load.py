"""Load the base model and wrap it in LoRA adapters, through Unsloth or plain transformers + PEFT.

Both engines return a PEFT model that the same ``SFTTrainer`` drives; only the loading and the
gradient-checkpointing flavour differ. Unsloth is imported inside :func:`_load_unsloth` only,
after :func:`dndtune.train.engine.activate_engine` has imported it first in the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.errors import DndtuneError
from dndtune.machine import TrainDtype
from dndtune.train.engine import EngineChoice


@dataclass(frozen=True)
class LoraSpec:
    r: int
    alpha: int
    dropout: float
    target_modules: tuple[str, ...]


def torch_dtype(name: TrainDtype) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_for_training(path: Path, choice: EngineChoice, lora: LoraSpec, *, max_seq_length: int,
                      gradient_checkpointing: bool, seed: int) -> Any:
    """The base model at ``path`` with trainable LoRA adapters on ``lora.target_modules``."""
    from transformers import set_seed

    # LoRA's A matrices are drawn at wrap time, before the trainer seeds anything.
    set_seed(seed)
    if choice.name == "unsloth":
        return _load_unsloth(path, choice, lora, max_seq_length=max_seq_length,
                             gradient_checkpointing=gradient_checkpointing, seed=seed)
    return _load_peft(path, choice, lora, gradient_checkpointing=gradient_checkpointing)


def _load_peft(path: Path, choice: EngineChoice, lora: LoraSpec, *, gradient_checkpointing: bool) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    dtype = torch_dtype(choice.dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if choice.load_in_4bit:
        from transformers import BitsAndBytesConfig

        bnb_config: Any = BitsAndBytesConfig  # untyped constructor
        kwargs["quantization_config"] = bnb_config(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if choice.load_in_4bit:
        prepare: Any = prepare_model_for_kbit_training  # untyped in PEFT
        model = prepare(model, use_gradient_checkpointing=gradient_checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=list(lora.target_modules), bias="none", task_type="CAUSAL_LM")
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise DndtuneError(f"LoRA could not be attached: {exc}",
                           fix="check lora.target_modules against the model's module names") from exc


def _load_unsloth(path: Path, choice: EngineChoice, lora: LoraSpec, *, max_seq_length: int,
                  gradient_checkpointing: bool, seed: int) -> Any:
    from unsloth import FastLanguageModel

    model, _tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(path), max_seq_length=max_seq_length, dtype=torch_dtype(choice.dtype),
        load_in_4bit=choice.load_in_4bit,
    )
    return FastLanguageModel.get_peft_model(
        model, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules), bias="none",
        # Unsloth's own checkpointing offloads activations to RAM: the reason to use it on small GPUs.
        use_gradient_checkpointing="unsloth" if gradient_checkpointing else False,
        random_state=seed, max_seq_length=max_seq_length,
    )
