"""The Recipe screen's memory pane: the doctor's estimate against the machine, with its verdict."""

from __future__ import annotations

from dndtune.env.memory_fit import memory_check
from dndtune.models.profiles import get_profile
from dndtune.recipe.loader import parse_recipe
from tests.tui.conftest import fake_environment
from tui.widgets.recipe.memory_estimate import estimate_text, gauge

RECIPE = "base_model:\n  profile: gemma-3-270m\n"


def test_gauge_fills_in_proportion() -> None:
    assert gauge(0.5, 10, "green").plain == "█████░░░░░"
    assert gauge(1.7, 4, "red").plain == "████"


def test_estimate_shows_peak_share_and_the_doctors_verdict() -> None:
    env = fake_environment()
    recipe = parse_recipe(RECIPE)
    text = estimate_text(recipe, env, width=10)
    assert text.plain.startswith("peak ") and "of 12.88 GB RAM free" in text.plain
    assert "%" in text.plain
    big = parse_recipe(RECIPE, overrides=["data.max_seq_length=131072", "train.batch_size=64"])
    verdict = memory_check(big, get_profile("gemma-3-270m"), env)
    assert verdict.status == "fail" and verdict.fix
    # The fix the doctor suggests is shown under the gauge.
    assert verdict.fix in estimate_text(big, env, width=10).plain


def test_unknown_model_and_missing_facts_say_so() -> None:
    env = fake_environment()
    assert "cannot estimate" in estimate_text(parse_recipe("base_model:\n  name_or_path: nowhere/x\n"), env).plain
    assert estimate_text(parse_recipe(RECIPE), None).plain == "checking this machine…"
    assert estimate_text(None, env).plain == "no recipe"
