"""``dndtune dataset build`` and the recipe -> DatasetConfig mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.pipeline.configs import dataset_config
from dndtune.recipe.schema import Recipe
from tests.dataset.conftest import TRAINING_DATA


def test_cli_build_prints_the_stats_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dataset", "build", "--scenarios", str(TRAINING_DATA), "--out", str(tmp_path),
                 "--no-cache", "--seed", "3"])
    assert code == 0
    out = capsys.readouterr().out
    for category in ("combat", "social", "exploration", "puzzle", "rest", "shop", "total"):
        assert category in out
    stats = json.loads((tmp_path / "stats.json").read_text())
    train, held = stats["train_scenarios"], stats["eval_scenarios"]
    assert f"examples: {3 * train} train ({2 * train} augmented), {held} eval" in out
    assert (tmp_path / "train.jsonl").exists() and (tmp_path / "stats.json").exists()


def test_cli_no_augment_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "build", "--scenarios", str(TRAINING_DATA), "--out", str(tmp_path),
                 "--no-cache", "--no-augment"]) == 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["augmented_examples"] == 0 and stats["train_examples"] == stats["train_scenarios"]
    capsys.readouterr()
    assert main(["dataset", "build", "--scenarios", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 1
    assert "scenarios folder not found" in capsys.readouterr().err
    assert main(["dataset", "build", "--tokenizer", str(tmp_path / "missing")]) == 1
    assert "tokenizer folder not found" in capsys.readouterr().err


def test_config_from_recipe() -> None:
    recipe = Recipe.model_validate({
        "base_model": {"profile": "gemma-3-270m"},
        "data": {"scenarios_dir": "my-data", "categories": {"combat": 2.0}, "max_per_category": 9,
                 "augment": {"copies": 4, "seed": 11, "dice": False}, "eval_fraction": 0.2,
                 "split_seed": 5, "max_seq_length": 2048},
        "output": {"dir": "runs", "run_name": "demo"},
    })
    config = dataset_config(recipe)
    assert config.scenarios_dir == Path("my-data")
    assert config.output_dir == Path("runs/datasets/demo")  # beside the runs: never inside a frozen version
    assert config.categories == {"combat": 2.0} and config.max_per_category == 9
    assert (config.augment_copies, config.augment_seed, config.augment_dice) == (4, 11, False)
    assert config.augment_options.names and not config.augment_options.dice
    assert (config.eval_fraction, config.split_seed, config.max_seq_length) == (0.2, 5, 2048)
    assert dataset_config(recipe, output_dir=Path("x")).output_dir == Path("x")
    off = Recipe.model_validate({"base_model": {"profile": "gemma-3-270m"},
                                 "data": {"augment": {"enabled": False}}})
    assert dataset_config(off).copies == 0
