"""Recipe edits are checked with the loader's own rules and saved as readable YAML."""

from __future__ import annotations

import yaml

from dndtune.recipe.loader import parse_recipe
from tui.widgets.recipe.fields import FIELDS, edited_yaml, field_errors, overrides_for, resolve

RECIPE = """\
base_model:
  profile: gemma-3-270m
train:
  epochs: 2
  lr: 0.0002
"""


def test_every_field_reads_its_value_from_a_recipe() -> None:
    recipe = parse_recipe(RECIPE)
    values = {f.key: f.current(recipe) for f in FIELDS}
    assert values["train.epochs"] == "2"
    assert values["train.lr"] == "0.0002"
    assert values["train.max_steps"] == ""
    assert values["target.size_limit"] == "2.00GB"


def test_each_bad_field_gets_its_own_message() -> None:
    errors = field_errors(RECIPE, "r.yaml", {"train.lr": "-1", "lora.r": "abc", "train.epochs": "4"})
    assert set(errors) == {"train.lr", "lora.r"}
    assert errors["train.lr"].startswith("must be > 0")
    assert "integer" in errors["lora.r"]


def test_valid_edits_resolve_like_set_overrides() -> None:
    edits = {"train.max_steps": "5", "target.size_limit": "500MB", "train.lr": "1e-4"}
    recipe = resolve(RECIPE, "r.yaml", edits)
    assert recipe.train.max_steps == 5 and recipe.target.size_limit == 500_000_000 and recipe.train.lr == 1e-4
    assert overrides_for(edits) == ["train.max_steps=5", "train.lr=1e-4", "target.size_limit=500MB"]


def test_saved_yaml_keeps_numbers_typed_and_sizes_as_written() -> None:
    edits = {"train.lr": "1e-4", "target.size_limit": "500MB", "train.max_steps": "7"}
    text = edited_yaml(RECIPE, edits, resolve(RECIPE, "r.yaml", edits), "demo.yaml")
    assert text.startswith("# Made from demo.yaml")
    data = yaml.safe_load(text)
    assert data["train"] == {"epochs": 2, "lr": 0.0001, "max_steps": 7}
    assert data["target"] == {"size_limit": "500MB"}
    assert parse_recipe(text).train.lr == 1e-4


def test_clearing_max_steps_writes_null() -> None:
    base = RECIPE.replace("  epochs: 2\n", "  epochs: 2\n  max_steps: 9\n")
    edits = {"train.max_steps": ""}
    text = edited_yaml(base, edits, resolve(base, "r.yaml", edits), "x.yaml")
    assert yaml.safe_load(text)["train"]["max_steps"] is None
