"""Quant names and the toolchain install step (converter extracted from the pinned sdist)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import gguf
import pytest

from dndtune.errors import DndtuneError
from dndtune.export import toolchain as tc
from dndtune.export.quants import Rung, parse_ladder
from dndtune.gguf.quant_types import EMBEDDING_TYPES, LEGACY_TYPES, QUANT_TYPES, UNQUANTIZED


def test_file_type_numbers_match_gguf_py() -> None:
    for name, row in QUANT_TYPES.items():
        member = "ALL_F32" if name == "F32" else f"MOSTLY_{name}"
        assert row.name == name
        assert int(gguf.LlamaFileType[member]) == row.ftype, name
        assert row.tensor_type in gguf.GGMLQuantizationType.__members__, row.tensor_type


def test_derived_type_lists_run_finest_first() -> None:
    assert UNQUANTIZED == ("F32", "F16", "BF16")
    assert LEGACY_TYPES == ("Q8_0", "Q5_0", "Q4_0")
    assert EMBEDDING_TYPES == ("Q8_0", "Q6_K", "Q5_0", "Q4_0")
    # Coarser types get fewer bits and a looser drift tolerance, so the table's order is a ladder's.
    rows = [row for row in QUANT_TYPES.values() if row.quantized]
    assert [r.kl_tolerance for r in rows] == sorted(r.kl_tolerance for r in rows)


def test_rung_parsing() -> None:
    assert Rung.parse("q4_k_m") == Rung("Q4_K_M")
    assert Rung.parse("Q4_0+emb=Q4_0").label == "Q4_0+emb=Q4_0"
    assert [r.label for r in parse_ladder(["Q8_0", "Q4_0"])] == ["Q8_0", "Q4_0"]
    with pytest.raises(DndtuneError, match="unknown quantization"):
        Rung.parse("Q9_9")
    with pytest.raises(DndtuneError, match="bad quant rung"):
        Rung.parse("Q4_0+emb=Q2_K")


def _fake_sdist(path: Path, *, commit: str = "abc123") -> Path:
    root = f"llama_cpp_python-{tc.LLAMA_CPP_PYTHON_VERSION}"
    files = {
        f"{root}/vendor/llama.cpp/convert_hf_to_gguf.py": b"# converter\n",
        f"{root}/vendor/llama.cpp/conversion/__init__.py": b"",
        f"{root}/vendor/llama.cpp/conversion/gemma.py": b"# gemma\n",
        f"{root}/vendor/llama.cpp/gguf-py/gguf/__init__.py": b"",
        f"{root}/vendor/llama.cpp/LICENSE": b"MIT\n",
        f"{root}/vendor/llama.cpp/src/llama.cpp": b"// not needed\n",
        f"{root}/vendor/llama.cpp/conversion/../../../evil.py": b"escape\n",
        f"{root}/.git/modules/vendor/llama.cpp/HEAD": f"{commit}\n".encode(),
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_keeps_only_the_converter_and_records_the_commit(tmp_path: Path) -> None:
    target = tmp_path / "conv"
    tc.extract_converter(_fake_sdist(tmp_path / "s.tar.gz"), target)
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == ["LICENSE", "conversion/__init__.py", "conversion/gemma.py", "convert_hf_to_gguf.py",
                     "gguf-py/gguf/__init__.py", "toolchain.json"]
    stamp = json.loads((target / "toolchain.json").read_text())
    assert stamp["llama_cpp_commit"] == "abc123"
    assert stamp["llama_cpp_python"] == tc.LLAMA_CPP_PYTHON_VERSION
    assert not (tmp_path / "evil.py").exists()


def test_ensure_converter_is_a_no_op_when_present(tmp_path: Path) -> None:
    target = tmp_path / "conv"
    tc.extract_converter(_fake_sdist(tmp_path / "s.tar.gz"), target)
    # A python that does not exist proves no pip download is attempted.
    assert tc.ensure_converter(target, python=str(tmp_path / "no-python")) == target


def test_load_toolchain_reports_a_missing_converter(tmp_path: Path) -> None:
    with pytest.raises(DndtuneError, match="converter is not installed") as info:
        tc.load_toolchain(tmp_path / "nothing")
    assert "setup" in str(info.value)


def test_load_toolchain_pins_converter_to_bindings(tmp_path: Path) -> None:
    target = tmp_path / "conv"
    tc.extract_converter(_fake_sdist(tmp_path / "s.tar.gz"), target)
    found = tc.load_toolchain(target)
    assert found.llama_cpp_python == tc.LLAMA_CPP_PYTHON_VERSION == tc.installed_bindings_version()
    assert found.describe() == {"llama_cpp_python": tc.LLAMA_CPP_PYTHON_VERSION, "llama_cpp_commit": "abc123"}
    stamp = target / "toolchain.json"
    stamp.write_text(json.dumps({"llama_cpp_python": "0.0.1"}))
    with pytest.raises(DndtuneError, match=r"not 0\.3"):
        tc.load_toolchain(target)
