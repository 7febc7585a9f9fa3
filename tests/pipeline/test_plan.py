"""The --dry-run plan: the resolved recipe, then stages, memory, steps and the export preview."""

from __future__ import annotations

import yaml

from dndtune.models.profiles import get_profile
from dndtune.pipeline.plan import (
    build_plan,
    describe_plan,
    estimate_steps,
    failing_checks,
    plan_report,
    predict_gguf_size,
)
from dndtune.recipe.loader import load_recipe, parse_recipe
from tests.env.fakes import GB, fake_env


def test_describe_plan_is_the_recipe_then_the_plan() -> None:
    recipe = load_recipe("demo-cpu")
    text = describe_plan(recipe, fake_env(ram_available=16 * GB), 120)
    assert text.startswith("# Resolved recipe (")
    resolved, plan = list(yaml.safe_load_all(text))
    assert resolved == recipe.model_dump(mode="json")
    assert plan["model"]["profile"] == "gemma-3-270m" and plan["model"]["parameters"] == 268_098_176
    assert plan["steps"]["optimizer_steps"] == 80 and plan["steps"]["basis"] == "train.max_steps"
    assert plan["memory"]["available"] == "16.00 GB RAM (cpu)"
    assert plan["export"]["expected_choice"] == "Q8_0"
    assert plan["stages"][0].startswith("doctor") and plan["stages"][-1].startswith("evaluate")
    assert plan["doctor"]["verdict"] in ("pass", "warn", "fail")


def test_steps_follow_epochs_batch_and_accumulation() -> None:
    recipe = parse_recipe("base_model:\n  profile: qwen3-0.6b\ntrain:\n  epochs: 2\n  batch_size: 2\n"
                          "  grad_accum: 4\n")
    assert estimate_steps(recipe, None) is None
    assert estimate_steps(recipe, 100) == 2 * 13  # 50 batches -> 13 optimizer steps per epoch
    assert estimate_steps(recipe, 1) == 2
    plan = build_plan(recipe, fake_env(), n_examples=None, profile=get_profile("qwen3-0.6b"))
    assert plan["steps"]["optimizer_steps"] == "known after the dataset stage"


def test_export_preview_walks_the_ladder() -> None:
    recipe = parse_recipe("base_model:\n  profile: qwen3-1.7b\ntarget:\n  size_limit: 1.1GB\n")
    plan = build_plan(recipe, fake_env(), profile=get_profile("qwen3-1.7b"))
    # The tied 151k x 2048 embedding stays at Q6_K under Q4_K_M (llama.cpp's rule), so Q4_K_M is ~1.12 GB.
    assert plan["export"]["expected_choice"] == "Q4_0"
    assert predict_gguf_size(1_000_000_000, "Q8_0") == 1_062_500_000
    gemma = get_profile("gemma-3-270m")
    params = gemma.param_count()
    # 640-wide rows take no K-quant: the embedding stays Q8_0 unless the rung lowers it.
    assert predict_gguf_size(params, "Q4_0+emb=Q4_0", gemma) < 0.7 * predict_gguf_size(params, "Q4_0", gemma)
    too_small = parse_recipe("base_model:\n  profile: qwen3-1.7b\ntarget:\n  size_limit: 100MB\n")
    assert build_plan(too_small, fake_env(), profile=get_profile("qwen3-1.7b"))["export"]["expected_choice"] \
        .startswith("none fits")


def test_plan_report_gives_the_text_and_the_failing_checks() -> None:
    recipe = parse_recipe("base_model:\n  profile: qwen3-0.6b\n  name_or_path: /nonexistent/model\n")
    text, plan = plan_report(recipe, fake_env(), profile=get_profile("qwen3-0.6b"))
    assert text == describe_plan(recipe, fake_env(), profile=get_profile("qwen3-0.6b"))
    assert plan["doctor"]["verdict"] == "fail"
    assert failing_checks(plan)[0].startswith("model: base model folder not found: /nonexistent/model")
    assert failing_checks({"doctor": {"verdict": "warn", "checks": ["warn: disk: tight"]}}) == []
