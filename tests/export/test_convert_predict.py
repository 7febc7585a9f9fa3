"""HF -> f16 GGUF conversion, metadata, size prediction against real quantized files, integrity checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf import GGUFReader

from dndtune.errors import DndtuneError
from dndtune.export.convert import convert_hf_to_gguf
from dndtune.export.predict import predict, read_model_info
from dndtune.export.quantize import quantize_gguf
from dndtune.export.quants import Rung
from dndtune.export.toolchain import Toolchain
from dndtune.gguf.file import check_sha256, read_gguf
from dndtune.hashing import sha256_file
from tests.fixtures.tiny_models import profile_for


def test_f16_gguf_carries_chat_template_and_special_tokens(gemma_f16: Path, gemma_hf: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gemma_hf)
    summary = read_gguf(gemma_f16)
    assert summary.architecture == "gemma3"
    assert summary.chat_template == profile_for("gemma3").chat_template
    assert summary.eos_token_id == tokenizer.eos_token_id
    assert summary.bos_token_id == tokenizer.bos_token_id
    reader = GGUFReader(gemma_f16)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert "<end_of_turn>" in tokens and "<start_of_turn>" in tokens
    assert set(summary.type_counts()) == {"F16", "F32"}


def test_qwen2_converts_with_its_own_pre_tokenizer(qwen_hf: Path, toolchain: Toolchain, tmp_path: Path) -> None:
    out = convert_hf_to_gguf(qwen_hf, tmp_path / "q.gguf", toolchain).path
    reader = GGUFReader(out)
    assert reader.fields["tokenizer.ggml.pre"].contents() == "qwen2"
    assert read_gguf(out).chat_template == profile_for("qwen2").chat_template


def test_bad_folder_fails_with_the_fix(tmp_path: Path, toolchain: Toolchain) -> None:
    (tmp_path / "merged").mkdir()
    with pytest.raises(DndtuneError, match=r"no config\.json") as info:
        convert_hf_to_gguf(tmp_path / "merged", tmp_path / "x.gguf", toolchain)
    assert "merged" in str(info.value)
    assert not (tmp_path / "x.gguf").exists()


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "Q4_0+emb=Q4_0"])
def test_prediction_matches_the_quantized_file(gemma_f16: Path, tmp_path: Path, quant: str) -> None:
    rung = Rung.parse(quant)
    info = read_model_info(gemma_f16)
    prediction = predict(info, rung)
    result = quantize_gguf(gemma_f16, tmp_path / "q.gguf", rung, threads=2)
    assert abs(prediction.bytes - result.bytes) <= 0.01 * result.bytes
    actual = read_gguf(result.path).tensor_types
    assert {t.name: t.target_type for t in prediction.tensors} == actual
    assert not prediction.fallbacks


def test_narrow_rows_fall_back_and_are_still_predicted(narrow_f16: Path, tmp_path: Path) -> None:
    rung = Rung.parse("Q4_K_M")
    prediction = predict(read_model_info(narrow_f16), rung)
    assert prediction.fallbacks, "64-wide rows cannot take 256-wide K-quant blocks"
    assert {t.fallback_from for t in prediction.fallbacks} <= {"Q4_K", "Q6_K"}
    result = quantize_gguf(narrow_f16, tmp_path / "n.gguf", rung, threads=2)
    assert abs(prediction.bytes - result.bytes) <= 0.01 * result.bytes
    assert {t.name: t.target_type for t in prediction.tensors} == read_gguf(result.path).tensor_types


def test_truncated_and_altered_files_are_detected(gemma_f16: Path, tmp_path: Path) -> None:
    copy = tmp_path / "c.gguf"
    data = gemma_f16.read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(DndtuneError, match=r"truncated|corrupt"):
        read_gguf(copy)
    copy.write_bytes(b"GGUF" + b"\xff" * 64)
    with pytest.raises(DndtuneError, match=r"corrupt|truncated"):
        read_gguf(copy)
    flipped = bytearray(data)
    flipped[-100] ^= 0xFF
    copy.write_bytes(bytes(flipped))
    read_gguf(copy)  # structure intact: only the digest can tell
    with pytest.raises(DndtuneError, match="does not match its manifest"):
        check_sha256(copy, sha256_file(gemma_f16))


def test_interrupted_quantize_leaves_nothing(gemma_f16: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "q.gguf"
    out.parent.mkdir()
    out.write_bytes(b"previous export")
    with pytest.raises(DndtuneError, match="longer than"):
        quantize_gguf(gemma_f16, out, Rung("Q8_0"), timeout=0.01)
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in out.parent.iterdir()] == ["q.gguf"]


def test_header_reader_agrees_with_gguf_py(gemma_f16: Path) -> None:
    from dndtune.gguf.header import SkippedArray, read_header

    header = read_header(gemma_f16, max_array=16)  # small enough to skip the tiny vocabulary
    reader = GGUFReader(gemma_f16)
    assert isinstance(header.metadata["tokenizer.ggml.tokens"], SkippedArray)
    assert header.data_offset == reader.data_offset
    assert [(t.name, t.shape, t.type) for t in header.tensors] == [
        (t.name, tuple(int(d) for d in t.shape), t.tensor_type.name) for t in reader.tensors]
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        ours = header.metadata[key]
        theirs = field.contents()
        if isinstance(ours, SkippedArray):
            assert ours.length == len(theirs)
        elif isinstance(theirs, float):
            assert ours == pytest.approx(theirs)
        else:
            assert ours == theirs, key
