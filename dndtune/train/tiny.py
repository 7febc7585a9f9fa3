"""Tiny, randomly initialised Gemma 3 and Qwen2 models with real (locally trained) tokenizers.

Tests and benchmarks need a model that loads from a folder exactly like a user's, trains in
seconds on two shared CPU cores, and has the special tokens of its family's chat format. The
real vocabularies (262k for Gemma 3, 151k for Qwen2) would make the embedding matrix the whole
cost of every step, so a byte-level BPE tokenizer is trained here on a few kilobytes of D&D
text instead: every string still encodes (byte fallback), merges are real, and turn markers
are single special tokens as in the real tokenizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

TinyFamily = Literal["gemma3", "qwen2"]


@dataclass(frozen=True)
class FamilyTokens:
    """Special tokens of one chat format, in the roles transformers gives them."""

    bos: str | None
    eos: str
    pad: str
    unk: str | None
    chat: tuple[str, ...]
    """Turn and tool markers, registered as special so each is one token."""
    extra: tuple[str, ...] = ()
    """Markers the real tokenizer has as (non-special) added tokens."""


FAMILY_TOKENS: dict[TinyFamily, FamilyTokens] = {
    "gemma3": FamilyTokens(bos="<bos>", eos="<eos>", pad="<pad>", unk="<unk>",
                           chat=("<start_of_turn>", "<end_of_turn>")),
    "qwen2": FamilyTokens(bos=None, eos="<|im_end|>", pad="<|endoftext|>", unk=None,
                          chat=("<|im_start|>", "<|im_end|>"),
                          extra=("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")),
}

# Enough varied text for a few hundred merges that look like a real tokenizer's (words, JSON,
# dice notation); the content only has to cover what the tests render.
_CORPUS = """\
You are the Dungeon Master. Describe the scene, ask for rolls when the outcome is uncertain,
and narrate the result. The party enters the crypt beneath the old chapel. Torches gutter.
Mira the rogue checks the door for traps. Roll a Dexterity (Sleight of Hand) check, DC 15.
Borin the dwarf fighter swings his axe at the goblin: attack roll against AC 13, then damage.
The goblin shrieks and falls. The skeleton lurches forward, its bones rattling in the dark.
Perception check: you hear footsteps above you. Stealth check failed: the guard turns around.
{"name": "roll_dice", "arguments": {"notation": "1d20+5", "reason": "Perception (Mira)"}}
{"type": "function", "function": {"name": "roll_dice", "description": "Roll dice in NdM+K notation",
"parameters": {"type": "object", "properties": {"notation": {"type": "string"}}, "required": ["notation"]}}}
{"result": 17, "rolls": [12], "modifier": 5, "total": 17, "dc": 15, "success": true}
1d20 2d6+3 1d8 4d6 1d12+2 1d4 d100 advantage disadvantage critical hit saving throw initiative
Strength Dexterity Constitution Intelligence Wisdom Charisma Athletics Acrobatics Arcana History
Investigation Nature Religion Animal Handling Insight Medicine Survival Deception Intimidation
Performance Persuasion hit points armor class spell slot cantrip ranger wizard cleric paladin bard
The innkeeper smiles and slides a key across the counter. "Room three, up the stairs," she says.
What do you do? I draw my sword and step into the tavern. I try to pick the lock. I cast fireball.
"""


def train_tiny_tokenizer(family: TinyFamily, *, vocab_size: int = 512, corpus: str = _CORPUS) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` with ``family``'s special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokens = FAMILY_TOKENS[family]
    specials = [t for t in (tokens.pad, tokens.eos, tokens.bos, tokens.unk) if t is not None]
    specials += [t for t in tokens.chat if t not in specials]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    # Untrimmed offsets: the assistant-label mask maps characters to tokens through them.
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator([line for line in corpus.splitlines() if line], trainer=trainer)
    fast: Any = PreTrainedTokenizerFast  # untyped constructor in transformers' stubs
    tokenizer = fast(
        tokenizer_object=backend, bos_token=tokens.bos, eos_token=tokens.eos, pad_token=tokens.pad,
        unk_token=tokens.unk, additional_special_tokens=[t for t in tokens.chat if t != tokens.eos],
    )
    if tokens.extra:
        tokenizer.add_tokens(list(tokens.extra))
    return tokenizer


def build_tiny_model(family: TinyFamily, tokenizer: Any, *, hidden_size: int = 64, layers: int = 2,
                     heads: int = 4, seed: int = 0) -> Any:
    """A randomly initialised causal LM of ``family`` sized to ``tokenizer``'s vocabulary."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    ids: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    shape: dict[str, Any] = {
        "hidden_size": hidden_size, "intermediate_size": hidden_size * 2, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": max(1, heads // 2),
        "max_position_embeddings": 4096, "tie_word_embeddings": True,
    }
    model: Any
    if family == "gemma3":
        config = Gemma3TextConfig(**ids, **shape, head_dim=hidden_size // heads, sliding_window=128,
                                  query_pre_attn_scalar=hidden_size // heads)
        model = Gemma3ForCausalLM(config)
    else:
        qwen: Any = Qwen2ForCausalLM  # untyped constructor in transformers' stubs
        model = qwen(Qwen2Config(**ids, **shape))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def save_tiny_model(family: TinyFamily, target: Path, *, chat_template: str | None = None,
                    seed: int = 0, hidden_size: int = 64, layers: int = 2) -> Path:
    """Write a tiny model + tokenizer (with ``chat_template``) to ``target``, loadable with ``from_pretrained``."""
    tokenizer = train_tiny_tokenizer(family)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    model = build_tiny_model(family, tokenizer, seed=seed, hidden_size=hidden_size, layers=layers)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
