"""Every shipped recipe parses, is commented, and plans (like torchtune's test_configs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.recipe.loader import load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))


def test_the_three_recipes_ship() -> None:
    assert {p.stem for p in RECIPES} >= {"mobile", "desktop", "demo-cpu"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_parses_and_is_commented(path: Path) -> None:
    recipe = load_recipe(str(path))
    assert recipe.source_path == path.resolve()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "a recipe opens with a comment saying what it is for"
    assert sum(1 for line in text.splitlines() if "#" in line) >= 10


def test_demo_cpu_is_what_the_acceptance_needs() -> None:
    r = load_recipe("demo-cpu")
    assert r.base_model.profile == "gemma-3-270m" and not r.base_model.load_in_4bit
    # About 15 minutes of training on 2 cores at ~11 s a step (benchmarks/RESULTS.md, model quality).
    assert r.train.max_steps is not None and r.train.max_steps <= 80
    assert r.data.max_seq_length == 2048 and r.train.batch_size == 1 and r.train.grad_accum == 1
    assert r.lora.r == 16 and r.train.engine == "auto" and r.output.run_name == "demo"
    assert r.train.decision_loss_weight > 1 and r.evaluate.enabled and r.evaluate.max_turns is not None


def test_mobile_and_desktop_targets() -> None:
    mobile, desktop = load_recipe("mobile"), load_recipe("desktop")
    assert mobile.base_model.load_in_4bit and mobile.target.size_limit == 2 * 10**9
    assert mobile.base_model.profile in ("gemma-3-1b", "qwen2.5-0.5b")
    assert desktop.target.size_limit == 8 * 10**9 and desktop.target.quant_ladder[0] == "Q8_0"
