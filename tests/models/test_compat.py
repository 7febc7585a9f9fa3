"""The compatibility check: architecture, a chat template that can express tool calls, tokens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.models.compat import check_compat, choose_chat_templates, render_problem
from dndtune.models.profiles import get_profile, profile_for_folder

CHATML_NO_TOOLS = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + (m['content'] or '') + '<|im_end|>\\n' }}"
    "{% endfor %}"
)


def test_gemma_folder_without_template_gets_the_profile_one(tiny_gemma_folder: Path) -> None:
    from transformers import AutoTokenizer

    profile = profile_for_folder(tiny_gemma_folder)
    assert check_compat(tiny_gemma_folder, profile) == []
    templates = choose_chat_templates(AutoTokenizer.from_pretrained(tiny_gemma_folder), profile)
    assert templates.from_profile and templates.inference == profile.chat_template
    assert templates.training == profile.training_chat_template


def test_qwen_keeps_its_own_working_template(tiny_qwen_folder: Path) -> None:
    from transformers import AutoTokenizer

    profile = get_profile("qwen2.5-0.5b")
    assert check_compat(tiny_qwen_folder, profile) == []
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_folder)
    templates = choose_chat_templates(tokenizer, profile)
    assert not templates.from_profile and templates.training == profile.training_chat_template

    tokenizer.chat_template = CHATML_NO_TOOLS
    assert render_problem(tokenizer, CHATML_NO_TOOLS, profile) is not None
    fallback = choose_chat_templates(tokenizer, profile)
    assert fallback.from_profile and fallback.inference == profile.chat_template


def test_family_mismatch_and_missing_tokens(tiny_gemma_folder: Path) -> None:
    problems = check_compat(tiny_gemma_folder, get_profile("qwen3-0.6b"))
    assert "the model is gemma3 but the profile qwen3-0.6b is qwen3" in problems
    assert any("tokens missing from the vocabulary: <|im_start|>, <|im_end|>, <|endoftext|>" in p for p in problems)


def test_unsupported_architecture(tmp_path: Path, tiny_gemma_folder: Path) -> None:
    folder = tmp_path / "llama"
    shutil.copytree(tiny_gemma_folder, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}), encoding="utf-8")
    [problem] = check_compat(folder, get_profile("gemma-3-270m"))
    assert problem.startswith("architecture 'llama' is not supported (supported: Gemma 2, Gemma 3, Qwen 2")


def test_broken_template_is_reported(tiny_gemma_folder: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma_folder)
    profile = get_profile("gemma-3-270m")
    assert "fails" in (render_problem(tokenizer, "{{ raise_exception('no') }}", profile) or "")
    assert "end with" in (render_problem(tokenizer, profile.chat_template.replace("<end_of_turn>", "<eot>"), profile)
                          or "")


def test_folder_without_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}), encoding="utf-8")
    # Depending on the transformers version this fails to load or loads an empty tokenizer.
    [problem] = check_compat(tmp_path, get_profile("qwen2.5-0.5b"))
    assert problem.startswith(("the tokenizer does not load", "tokens missing from the vocabulary"))


def test_profile_template_that_cannot_render_raises(tiny_gemma_folder: Path) -> None:
    from dataclasses import replace

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma_folder)
    profile = get_profile("gemma-3-270m")
    qwen_format = replace(profile, tool_format=get_profile("qwen3-0.6b").tool_format)
    with pytest.raises(DndtuneError, match="cannot express tool calls: the rendered tool call cannot be parsed"):
        choose_chat_templates(tokenizer, qwen_format)
