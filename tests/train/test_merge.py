"""Merging: the merged folder reloads with plain transformers and computes what base + adapter computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.train.merge import MERGE_INFO, merge_adapter, merged_dtype
from dndtune.train.trainer import train_adapter
from tests.fixtures.tiny_models import EVAL, TRAIN, conversation, profile_for, tiny_job


@pytest.fixture(scope="module")
def trained(tiny_gemma3: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("merge-run")
    # A large step so the adapter visibly changes the logits.
    result = train_adapter(tiny_job(tiny_gemma3, root, max_steps=3, lr=5e-2), TRAIN, EVAL, ListSink())
    assert result.adapter_dir is not None
    return result.adapter_dir


def sample_ids(path: Path) -> torch.Tensor:
    tokenizer = AutoTokenizer.from_pretrained(path)
    example = conversation(7)
    text = tokenizer.apply_chat_template(example["messages"], tools=example["tools"], tokenize=False)
    return torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])


def test_merged_model_matches_base_plus_adapter(tiny_gemma3: Path, trained: Path, tmp_path: Path) -> None:
    profile = profile_for("gemma3")
    sink = ListSink()
    target = merge_adapter(tiny_gemma3, trained, tmp_path / "merged", dtype="float32",
                           chat_template=profile.chat_template, stop_tokens=profile.stop_tokens, events=sink)
    assert [e.kind for e in sink.events] == ["merge.start", "merge.done"]
    assert list(target.glob("*.safetensors")) and not list(target.glob("adapter_*"))
    assert json.loads((target / MERGE_INFO).read_text())["dtype"] == "float32"

    ids = sample_ids(target)
    merged = AutoModelForCausalLM.from_pretrained(target).eval()
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_gemma3), trained).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_gemma3).eval()
    with torch.no_grad():
        got, want, before = merged(ids).logits, reference(ids).logits, base(ids).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert (want - before).abs().max() > 1e-3  # the adapter did change something

    tokenizer = AutoTokenizer.from_pretrained(target)
    assert tokenizer.chat_template == profile.chat_template
    eot = tokenizer.convert_tokens_to_ids(profile.end_of_turn_token)
    eos = merged.generation_config.eos_token_id
    assert eot in (eos if isinstance(eos, list) else [eos])


def test_bf16_merge_is_close_and_half_the_size(tiny_gemma3: Path, trained: Path, tmp_path: Path) -> None:
    full = merge_adapter(tiny_gemma3, trained, tmp_path / "f32", dtype="float32")
    half = merge_adapter(tiny_gemma3, trained, tmp_path / "bf16", dtype="bfloat16")
    model = AutoModelForCausalLM.from_pretrained(half)
    assert model.dtype == torch.bfloat16
    size = {p: sum(f.stat().st_size for f in p.glob("*.safetensors")) for p in (full, half)}
    assert size[half] < 0.6 * size[full]
    ids = sample_ids(half)
    with torch.no_grad():
        a = AutoModelForCausalLM.from_pretrained(full)(ids).logits
        b = model(ids).logits.float()
    assert (a - b).abs().max() < 0.1


def test_merge_replaces_an_existing_folder_atomically(tiny_gemma3: Path, trained: Path, tmp_path: Path) -> None:
    target = tmp_path / "merged"
    merge_adapter(tiny_gemma3, trained, target, dtype="float32")
    merge_adapter(tiny_gemma3, trained, target, dtype="bfloat16")
    assert json.loads((target / MERGE_INFO).read_text())["dtype"] == "bfloat16"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]


def test_merge_without_adapter_fails_clearly(tiny_gemma3: Path, tmp_path: Path) -> None:
    with pytest.raises(DndtuneError, match="no trained adapter"):
        merge_adapter(tiny_gemma3, tmp_path / "nothing", tmp_path / "merged")


def test_merged_dtype_defaults_to_bfloat16() -> None:
    assert [merged_dtype(d) for d in ("auto", "bfloat16", "float16", "float32")] == \
        ["bfloat16", "bfloat16", "float16", "float32"]
