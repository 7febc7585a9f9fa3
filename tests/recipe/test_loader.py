"""Loading recipes: name lookup, --set overrides, and one-line errors with the YAML line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.recipe.loader import dump_recipe, find_recipe, load_recipe, parse_recipe

BASE = "base_model:\n  profile: gemma-3-270m\n"


def error_of(text: str, overrides: list[str] | None = None) -> str:
    with pytest.raises(DndtuneError) as info:
        parse_recipe(text, source="recipes/x.yaml", overrides=overrides or [])
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bad_value_names_file_line_and_path() -> None:
    text = BASE + "train:\n  epochs: 2\n  lr: -1\n"
    assert error_of(text) == "recipes/x.yaml:5: train.lr: must be > 0 (got -1)"


def test_unknown_key_suggests_the_close_one() -> None:
    assert error_of(BASE + "train:\n  lrr: 1.0e-4\n") == "recipes/x.yaml:4: train.lrr: unknown key (did you mean 'lr'?)"
    assert error_of(BASE + "datta: {}\n") == "recipes/x.yaml:3: datta: unknown key (did you mean 'data'?)"
    assert "unknown key (known: r, alpha, dropout, target_modules)" in error_of(BASE + "lora:\n  zzz: 1\n")


def test_wrong_types() -> None:
    assert error_of(BASE + "train:\n  batch_size: many\n") == \
        "recipes/x.yaml:4: train.batch_size: must be an integer (got 'many')"
    assert error_of(BASE + "train: 5\n") == "recipes/x.yaml:3: train: must be a mapping (got 5)"
    assert error_of(BASE + "lora:\n  target_modules: 5\n") == \
        "recipes/x.yaml:4: lora.target_modules: must be a list or 'profile' (got 5)"
    assert "must be one of 'auto', 'unsloth' or 'trl'" in error_of(BASE + "train:\n  engine: fast\n")


def test_cross_field_errors_point_at_the_field() -> None:
    text = BASE + "train:\n  save_steps: 30\n  eval_steps: 20\n"
    assert error_of(text).startswith("recipes/x.yaml:4: train.save_steps: must be a multiple of eval_steps (20)")
    assert error_of(BASE + "train:\n  epochs: null\n").startswith("recipes/x.yaml:4: train.epochs: set train.epochs")
    assert error_of("base_model:\n  dtype: auto\n").startswith("recipes/x.yaml:1: base_model.profile: set base_model")


def test_yaml_problems() -> None:
    assert error_of("base_model: [\n").startswith("recipes/x.yaml:2: invalid YAML:")
    assert error_of("").startswith("recipes/x.yaml: recipe is empty")
    assert error_of("- a\n- b\n").startswith("recipes/x.yaml:1: a recipe must be a mapping")
    assert error_of(BASE + "  profile: qwen3-0.6b\n") == \
        "recipes/x.yaml:3: base_model.profile: duplicate key (keep one of them; YAML would silently use the last)"
    assert error_of(BASE + "source_path: x\n").startswith("recipes/x.yaml:3: source_path: unknown key")


def test_overrides_apply_and_parse_yaml_scalars() -> None:
    r = parse_recipe(BASE + "train:\n  lr: 1.0e-4\n", overrides=[
        "train.lr=5e-5", "train.max_steps=30", "train.epochs=null", "target.quant_ladder=[Q4_0]",
        "output.run_name=123", "data.augment.copies=0", "base_model.load_in_4bit=yes",
    ])
    assert r.train.lr == 5e-5 and r.train.max_steps == 30
    assert r.target.quant_ladder == ["Q4_0"]
    assert r.output.run_name == "123"
    assert r.data.augment.copies == 0
    assert r.base_model.load_in_4bit is True


def test_override_errors_name_the_override() -> None:
    assert error_of(BASE, ["train.lr=-1"]) == "--set train.lr=-1: train.lr: must be > 0 (got -1)"
    assert error_of(BASE, ["train.lrr=1"]) == "--set train.lrr=1: train.lrr: unknown key (did you mean 'lr'?)"
    assert "expected KEY=VALUE" in error_of(BASE, ["train.lr"])
    assert "expected KEY=VALUE" in error_of(BASE, ["train..lr=1"])
    assert error_of(BASE + "train:\n  lr: 1.0e-4\n", ["train.lr.x=1"]) == \
        "--set train.lr.x=1: train.lr is a value, not a section"


def test_empty_sections_mean_defaults() -> None:
    r = parse_recipe(BASE + "lora:\ntrain:\n")
    assert r.lora.r == 16 and r.train.lr == 2e-4


def test_name_lookup(tmp_path: Path) -> None:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "mine.yaml").write_text(BASE + "train:\n  lr: -1\n", encoding="utf-8")
    (folder / "ok.yaml").write_text(BASE, encoding="utf-8")
    assert find_recipe("ok", cwd=tmp_path) == folder / "ok.yaml"
    assert find_recipe("ok.yaml", cwd=tmp_path) == folder / "ok.yaml"
    assert find_recipe("recipes/ok.yaml", cwd=tmp_path) == folder / "ok.yaml"
    loaded = load_recipe("ok", cwd=tmp_path)
    assert loaded.source_path == (folder / "ok.yaml").resolve()
    with pytest.raises(DndtuneError, match=r"^recipes/mine\.yaml:4: train\.lr: must be > 0"):
        load_recipe("mine", cwd=tmp_path)
    with pytest.raises(DndtuneError, match=r"recipe not found: nope .*ok"):
        load_recipe("nope", cwd=tmp_path)


def test_dump_round_trips() -> None:
    r = parse_recipe(BASE + "target:\n  size_limit: 1.5 GiB\n")
    again = parse_recipe(dump_recipe(r))
    assert again == r
