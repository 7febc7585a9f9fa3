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


def test_export_fields_read_and_save_the_target_section() -> None:
    recipe = parse_recipe(RECIPE)
    values = {f.key: f.current(recipe) for f in FIELDS}
    assert values["target.prefer"] == "first_fit" and values["target.prune.allowed"] == "false"
    assert values["target.gate.tolerance"] == "0.02" and values["target.allow_drift"] == "false"
    assert values["target.quant_ladder"].endswith("Q4_0+emb=Q4_0]")
    edits = {"target.prefer": "smallest", "target.quant_ladder": "[Q8_0, q4_0+emb=q4_0]",
             "target.gate.tolerance": "0.05", "target.prune.allowed": "true", "target.gate.scores": "[roll_f1]"}
    resolved = resolve(RECIPE, "r.yaml", edits)
    assert resolved.target.prefer == "smallest" and resolved.target.quant_ladder == ["Q8_0", "Q4_0+emb=Q4_0"]
    assert resolved.target.gate.tolerance == 0.05 and resolved.target.prune.allowed
    data = yaml.safe_load(edited_yaml(RECIPE, edits, resolved, "demo.yaml"))
    assert data["target"] == {"prefer": "smallest", "quant_ladder": ["Q8_0", "Q4_0+emb=Q4_0"],
                              "gate": {"tolerance": 0.05, "scores": ["roll_f1"]}, "prune": {"allowed": True}}
    assert parse_recipe(yaml.safe_dump(data)).target.prefer == "smallest"


def test_bad_export_fields_say_why() -> None:
    errors = field_errors(RECIPE, "r.yaml", {"target.prefer": "biggest", "target.quant_ladder": "[Q4_0+emb=Q2_K]",
                                             "target.gate.scores": "[vibes]"})
    assert set(errors) == {"target.prefer", "target.quant_ladder", "target.gate.scores"}
    assert "bad quant rung" in errors["target.quant_ladder"]
