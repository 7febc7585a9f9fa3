"""Rebuild a SentencePiece-BPE tokenizer that transformers read from a GGUF as Unigram.

Gemma's GGUF stores its vocabulary as SentencePiece pieces with scores equal to minus the merge
rank (``tokenizer.ggml.model = "llama"``). transformers' GGUF loader turns that into a Unigram
model, and Unigram's Viterbi search over rank-scores prefers single characters (``The`` ->
``T h e``), so the model sees text it was never trained on. SentencePiece BPE merges the pair
whose merged piece has the best score; listing merges in that order gives a ``tokenizers`` BPE
model that tokenizes exactly as llama.cpp does (checked on every paragraph of the shipped
scenarios in tests/models/test_gguf_tokenizer.py).
"""

from __future__ import annotations

import json
from typing import Any


def is_rank_scored_unigram(tokenizer: Any) -> bool:
    """A fast tokenizer whose backend is Unigram with byte fallback: the GGUF-SPM shape above."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    model = json.loads(backend.to_str()).get("model", {})
    return bool(model.get("type") == "Unigram" and model.get("byte_fallback"))


def bpe_from_rank_scored_unigram(tokenizer: Any) -> Any:
    """The same tokenizer (special tokens, normalizer, decoder, template) with a BPE backend."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import generate_merges

    data = json.loads(tokenizer.backend_tokenizer.to_str())
    pieces: list[tuple[str, float]] = [(p, float(s)) for p, s in data["model"]["vocab"]]
    vocab = {piece: index for index, (piece, _) in enumerate(pieces)}
    merges = generate_merges(vocab, dict(pieces))
    unk_id = data["model"].get("unk_id")
    data["model"] = {
        "type": "BPE",
        "dropout": None,
        "unk_token": pieces[unk_id][0] if unk_id is not None else None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": True,
        "byte_fallback": True,
        "ignore_merges": False,
        "vocab": vocab,
        "merges": [list(pair) for pair in merges],
    }
    backend = Tokenizer.from_str(json.dumps(data))
    rebuilt = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        bos_token=tokenizer.bos_token,
        eos_token=tokenizer.eos_token,
        unk_token=tokenizer.unk_token,
        pad_token=tokenizer.pad_token,
        additional_special_tokens=list(getattr(tokenizer, "additional_special_tokens", []) or []),
        add_bos_token=getattr(tokenizer, "add_bos_token", True),
        add_eos_token=getattr(tokenizer, "add_eos_token", False),
    )
    rebuilt.chat_template = tokenizer.chat_template
    return rebuilt
