"""The recipe schema: defaults, sizes, and the cross-field rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dndtune.recipe.schema import PROFILE_NAMES, Recipe
from dndtune.units import format_size, parse_size


def recipe(**sections: Any) -> Recipe:
    data: dict[str, Any] = {"base_model": {"profile": "gemma-3-270m"}}
    data.update(sections)
    return Recipe.model_validate(data)


def test_defaults_fill_every_section() -> None:
    r = recipe()
    assert r.train.lr == 2e-4 and r.train.epochs == 3 and r.train.max_steps is None
    assert r.lora.target_modules == "profile"
    assert r.target.size_limit == 2 * 10**9
    assert r.target.quant_ladder[0] == "Q8_0"
    assert r.effective_batch() == 4
    assert "source_path" not in r.model_dump()


@pytest.mark.parametrize(("text", "expected"), [
    ("2GB", 2_000_000_000), ("1.5 GiB", 1_610_612_736), ("500MB", 500_000_000), ("512 mib", 512 * 2**20),
    (123, 123), ("42", 42), (2e9, 2_000_000_000),
])
def test_parse_size(text: Any, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["2 XB", "lots", True, [1], "1.2.3GB"])
def test_parse_size_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match="must be a size"):
        recipe(target={"size_limit": bad})


def test_format_size_is_decimal() -> None:
    assert format_size(2_000_000_000) == "2.00 GB"
    assert format_size(999) == "999 B"


def test_quant_ladder_is_normalized_and_checked() -> None:
    assert recipe(target={"quant_ladder": ["q4_k_m", "Q8_0"]}).target.quant_ladder == ["Q4_K_M", "Q8_0"]
    with pytest.raises(ValidationError, match="unknown quantization 'Q9'"):
        recipe(target={"quant_ladder": ["Q9"]})
    with pytest.raises(ValidationError, match="at least one"):
        recipe(target={"quant_ladder": []})


def test_epochs_may_be_null_only_with_max_steps() -> None:
    assert recipe(train={"epochs": None, "max_steps": 30}).train.max_steps == 30
    with pytest.raises(ValidationError, match=r"set train\.epochs or train\.max_steps"):
        recipe(train={"epochs": None})


def test_early_stopping_needs_aligned_checkpoints_and_eval_data() -> None:
    with pytest.raises(ValidationError, match="multiple of eval_steps"):
        recipe(train={"save_steps": 30, "eval_steps": 20})
    assert recipe(train={"save_steps": 30, "eval_steps": 20, "early_stopping_patience": None})
    with pytest.raises(ValidationError, match="needs held-out data"):
        recipe(data={"eval_fraction": 0})


@pytest.mark.parametrize(("section", "values"), [
    ("train", {"lr": 0}), ("train", {"lr": -1}), ("train", {"batch_size": 0}), ("lora", {"alpha": 0}),
    ("lora", {"r": 0}), ("lora", {"dropout": 1.0}), ("data", {"eval_fraction": 0.6}),
    ("data", {"max_seq_length": 10}), ("data", {"categories": {"combat": -1}}),
    ("data", {"categories": {"combat": 0}}), ("train", {"lr_scheduler": "cosine_annealing"}),
    ("train", {"engine": "deepspeed"}), ("output", {"run_name": "my run"}), ("lora", {"target_modules": []}),
    ("base_model", {"profile": "llama-3-8b"}), ("base_model", {"profile": None}),
])
def test_impossible_values_are_rejected(section: str, values: dict[str, Any]) -> None:
    data: dict[str, Any] = {"base_model": {"profile": "gemma-3-270m"}}
    data.setdefault(section, {}).update(values)
    with pytest.raises(ValidationError):
        Recipe.model_validate(data)


def test_every_field_has_help_text() -> None:
    def walk(model: type[Any]) -> None:
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
            annotation = info.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation)

    walk(Recipe)


def test_profile_names_match_the_shipped_profiles() -> None:
    from dndtune.models.profiles import builtin_profiles

    assert set(PROFILE_NAMES) == set(builtin_profiles())
