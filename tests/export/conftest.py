"""Fixtures for the export tests: tiny models with K-quant-friendly sizes, converted once per session.

The tiny models come from :mod:`dndtune.train.tiny` (real byte-level BPE tokenizers with each
family's special tokens and the profile's chat template). Hidden size 256 and MLP 512 make every
matrix row a multiple of 256, so K-quants apply without fallback; a separate 64-wide model covers
the fallback path. ``memorized`` is the tiny Gemma 3 trained for a few seconds on one DM exchange,
so greedy decoding reproduces a roll tool call and stops at ``<end_of_turn>``, which is what the
behaviour checks of verification look for.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dndtune.export.convert import convert_hf_to_gguf
from dndtune.export.toolchain import Toolchain, ensure_converter, load_toolchain
from dndtune.train.tiny import TinyFamily, save_tiny_model
from tests.fixtures.tiny_models import conversation, profile_for

WIDE = 256
"""Hidden size whose rows split into 256-wide K-quant blocks."""


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    # Setup installs the converter; a test machine that skipped it gets it from the registry once.
    ensure_converter()
    return load_toolchain()


def _tiny(root: Path, family: TinyFamily, hidden: int) -> Path:
    return save_tiny_model(family, root / f"{family}-{hidden}", chat_template=profile_for(family).chat_template,
                           hidden_size=hidden, layers=2)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export-tiny")


@pytest.fixture(scope="session")
def gemma_hf(tiny_root: Path) -> Path:
    return _tiny(tiny_root, "gemma3", WIDE)


@pytest.fixture(scope="session")
def qwen_hf(tiny_root: Path) -> Path:
    return _tiny(tiny_root, "qwen2", WIDE)


@pytest.fixture(scope="session")
def narrow_hf(tiny_root: Path) -> Path:
    return _tiny(tiny_root, "gemma3", 64)


@pytest.fixture(scope="session")
def gemma_f16(gemma_hf: Path, toolchain: Toolchain, tiny_root: Path) -> Path:
    return convert_hf_to_gguf(gemma_hf, tiny_root / "gemma3-f16.gguf", toolchain).path


@pytest.fixture(scope="session")
def narrow_f16(narrow_hf: Path, toolchain: Toolchain, tiny_root: Path) -> Path:
    return convert_hf_to_gguf(narrow_hf, tiny_root / "gemma3-narrow-f16.gguf", toolchain).path


def memorize(folder: Path, rows: list[dict[str, Any]], *, steps: int = 60, lr: float = 1e-2) -> None:
    """Overfit the model in ``folder`` on ``rows`` (rendered with its chat template) and save it back."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    batches = [torch.tensor([tokenizer(tokenizer.apply_chat_template(r["messages"], tools=r["tools"], tokenize=False),
                                       add_special_tokens=False)["input_ids"]]) for r in rows]
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # One thread: on shared cores torch's default pool made this 10x slower (80 s instead of 8 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        for step in range(steps):
            ids = batches[step % len(batches)]
            loss = model(input_ids=ids, labels=ids).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.train(False)
    model.save_pretrained(folder)


def eval_rows(n: int = 3) -> list[dict[str, Any]]:
    return [conversation(i) for i in range(n)]


@pytest.fixture(scope="session")
def memorized_hf(gemma_hf: Path, tiny_root: Path) -> Path:
    folder = tiny_root / "memorized"
    shutil.copytree(gemma_hf, folder)
    memorize(folder, eval_rows())
    return folder


def make_run(root: Path, merged: Path, *, eval_data: bool = True) -> Path:
    """A run folder shaped like the pipeline's: ``merged/`` and ``dataset/eval.jsonl``."""
    run = root / "runs" / "tiny"
    shutil.copytree(merged, run / "merged")
    if eval_data:
        (run / "dataset").mkdir(parents=True)
        (run / "dataset" / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in eval_rows()),
                                                   encoding="utf-8")
    return run
