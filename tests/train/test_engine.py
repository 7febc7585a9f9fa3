"""Engine selection: Unsloth where it has a backend and imports cleanly, TRL + PEFT everywhere else."""

from __future__ import annotations

import sys

import pytest

from dndtune.errors import DndtuneError
from dndtune.train.engine import EngineChoice, EngineFacts, activate_engine, probe_facts, select_engine


def facts(backend: str = "cpu", *, unsloth: bool = False, bnb: bool = False, bf16: bool = False) -> EngineFacts:
    return EngineFacts(backend=backend, device_name="test device", unsloth_installed=unsloth,  # type: ignore[arg-type]
                       bitsandbytes_installed=bnb, bf16_supported=bf16)


def pick(requested: str = "auto", *, fourbit: bool = False, dtype: str = "auto", import_ok: bool | None = None,
         **kw: bool | str) -> EngineChoice:
    return select_engine(requested, load_in_4bit=fourbit, dtype=dtype,  # type: ignore[arg-type]
                         facts=facts(**kw), unsloth_import_ok=import_ok)  # type: ignore[arg-type]


@pytest.mark.parametrize(("backend", "unsloth", "import_ok", "expected"), [
    ("cuda", True, True, "unsloth"),
    ("cuda", True, None, "unsloth"),
    ("cuda", True, False, "trl"),
    ("cuda", False, None, "trl"),
    ("cpu", True, True, "trl"),  # measured faster on CPU than Unsloth's CPU backend
    ("cpu", True, False, "trl"),
    ("cpu", False, None, "trl"),
    ("mps", True, True, "trl"),
])
def test_auto(backend: str, unsloth: bool, import_ok: bool | None, expected: str) -> None:
    choice = pick(backend=backend, unsloth=unsloth, import_ok=import_ok)
    assert choice.name == expected
    assert choice.reason.startswith("auto:")
    assert choice.name in choice.describe()


def test_trl_is_always_available() -> None:
    for backend in ("cuda", "cpu", "mps"):
        assert pick("trl", backend=backend, unsloth=True).name == "trl"


def test_explicit_unsloth_fails_clearly_when_it_cannot_run() -> None:
    with pytest.raises(DndtuneError, match="not installed"):
        pick("unsloth", backend="cuda", unsloth=False)
    with pytest.raises(DndtuneError, match="fails on this machine"):
        pick("unsloth", backend="cuda", unsloth=True, import_ok=False)
    with pytest.raises(DndtuneError, match="MPS"):
        pick("unsloth", backend="mps", unsloth=True)
    assert pick("unsloth", backend="cpu", unsloth=True).name == "unsloth"


def test_qlora_needs_cuda_and_bitsandbytes() -> None:
    with pytest.raises(DndtuneError, match="needs an NVIDIA GPU"):
        pick(fourbit=True, backend="cpu", bnb=True)
    with pytest.raises(DndtuneError, match="bitsandbytes"):
        pick(fourbit=True, backend="cuda", bnb=False)
    choice = pick(fourbit=True, backend="cuda", bnb=True, unsloth=True, bf16=True)
    assert choice.load_in_4bit and choice.name == "unsloth" and "QLoRA" in choice.describe()


@pytest.mark.parametrize(("backend", "bf16", "expected"), [
    ("cuda", True, "bfloat16"), ("cuda", False, "float16"),
    ("cpu", True, "bfloat16"), ("cpu", False, "float32"), ("mps", False, "float32"),
])
def test_auto_precision(backend: str, bf16: bool, expected: str) -> None:
    assert pick("trl", backend=backend, bf16=bf16).dtype == expected


def test_explicit_precision() -> None:
    assert pick("trl", dtype="float32", backend="cuda", bf16=True).dtype == "float32"
    assert pick("trl", dtype="bfloat16", backend="cpu", bf16=False).dtype == "bfloat16"
    with pytest.raises(DndtuneError, match="float16 training needs a CUDA GPU"):
        pick("trl", dtype="float16", backend="cpu")
    with pytest.raises(DndtuneError, match="MPS"):
        pick("trl", dtype="bfloat16", backend="mps")


def test_probe_never_imports_unsloth() -> None:
    already = "unsloth" in sys.modules
    found = probe_facts()
    assert found.backend in ("cuda", "mps", "cpu")
    assert ("unsloth" in sys.modules) == already


def test_activating_trl_imports_nothing() -> None:
    already = "unsloth" in sys.modules
    assert activate_engine(pick("trl")) == []
    assert ("unsloth" in sys.modules) == already
