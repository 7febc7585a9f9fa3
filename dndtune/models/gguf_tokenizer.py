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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dndtune.gguf.header import read_header

_CONTROL = 3
"""llama.cpp's LLAMA_TOKEN_TYPE_CONTROL."""


def is_rank_scored_unigram(tokenizer: Any) -> bool:
    """A fast tokenizer whose backend is Unigram with byte fallback: the GGUF-SPM shape above."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    model = json.loads(backend.to_str()).get("model", {})
    return bool(model.get("type") == "Unigram" and model.get("byte_fallback"))


def gguf_control_tokens(gguf_path: Path) -> tuple[list[str], bool]:
    """The GGUF's control tokens (type 3: ``<start_of_turn>``, ``<end_of_turn>``, ...) and whether it adds BOS.

    transformers' GGUF loader registers only bos/eos/unk/pad as special, so the chat markers
    would be split into ``<``, ``end``, ``_``...; llama.cpp treats every control token as one.
    """

    metadata = read_header(gguf_path, max_array=10_000_000).metadata
    tokens, types = metadata["tokenizer.ggml.tokens"], metadata["tokenizer.ggml.token_type"]
    control = [token for token, kind in zip(tokens, types, strict=True) if kind == _CONTROL]
    return control, bool(metadata.get("tokenizer.ggml.add_bos_token", False))


def bpe_from_rank_scored_unigram(tokenizer: Any, *, control_tokens: Sequence[str] = (),
                                 add_bos: bool = False) -> Any:
    """The same tokenizer (normalizer, decoder, template) with a BPE backend.

    ``control_tokens`` become special added tokens (matched whole, never split); ``add_bos``
    prepends BOS on encode, as llama.cpp does for Gemma.
    """
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
    known = {entry["content"] for entry in data.get("added_tokens", [])}
    data["added_tokens"] = list(data.get("added_tokens", [])) + [
        {"id": vocab[token], "content": token, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for token in control_tokens if token in vocab and token not in known
    ]
    bos = tokenizer.bos_token
    if add_bos and bos in vocab:
        data["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}},
        }
    backend = Tokenizer.from_str(json.dumps(data))
    special_names = {tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token, tokenizer.pad_token}
    rebuilt = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend,
        bos_token=tokenizer.bos_token,
        eos_token=tokenizer.eos_token,
        unk_token=tokenizer.unk_token,
        pad_token=tokenizer.pad_token,
        additional_special_tokens=[t for t in control_tokens if t not in special_names],
    )
    rebuilt.chat_template = tokenizer.chat_template
    return rebuilt
