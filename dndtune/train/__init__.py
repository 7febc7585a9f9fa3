"""LoRA fine-tuning: the engine choice, tokenization with trained-token masks, the trainer, the merge."""
