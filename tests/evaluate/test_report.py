from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from dndtune.dataset.chat import Message, tools
from dndtune.errors import DndtuneError
from dndtune.evaluate import EvalOptions, evaluate
from dndtune.evaluate.examples import EvalExample
from dndtune.evaluate.gate import Tolerance, pick_quant, within_tolerance
from dndtune.evaluate.report import EvalReport, comparison_rows, plot_comparison, read_eval_file, write_eval_file
from tests.evaluate.samples import quiet_conversation, roll_conversation
from tests.evaluate.scripted import ScriptedRunner, qwen_call

EXAMPLES = [EvalExample(messages=roll_conversation(), tools=tools(), source="a"),
            EvalExample(messages=quiet_conversation(), tools=tools(), source="b")]


def dm(skill: str) -> Callable[[Sequence[Message]], str]:
    def reply(messages: Sequence[Message]) -> str:
        if messages[-1]["role"] == "tool":
            return "Mira notices the skeletons."
        if "listens" in str(messages[-1]["content"]):
            return "Mira listens." + qwen_call(skill, "Mira")
        return "The chapel is quiet and grey."
    return reply


def report(label: str, skill: str = "perception", nll: float = 1.0, size: int = 1000) -> EvalReport:
    runner = ScriptedRunner(dm(skill), label=label, nll_per_token=nll, size=size)
    return evaluate(runner, EXAMPLES, options=EvalOptions(regression=False))


def test_eval_json_round_trip(tmp_path: Path) -> None:
    reports = [report("run-Q4_K_M"), report("base")]
    path = write_eval_file(tmp_path / "eval.json", reports)
    loaded = read_eval_file(path)
    assert loaded is not None and loaded.primary == "run-Q4_K_M"
    assert loaded.primary_report().headline() == reports[0].headline()
    assert json.loads(path.read_text())["reports"][1]["model"]["label"] == "base"
    assert read_eval_file(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text('{"reports": 3}')
    with pytest.raises(DndtuneError, match="not a dndtune evaluation"):
        read_eval_file(tmp_path / "bad.json")


def test_table_rows_and_png_chart(tmp_path: Path) -> None:
    reports = [report("fp16"), report("Q4_0", skill="stealth", nll=1.5)]
    rows = dict(comparison_rows(reports))
    assert rows["exact skill"] == ["100.0%", "0.0%"]
    assert rows["DM-turn perplexity"] == ["2.72", "4.48"]
    png = plot_comparison(reports, tmp_path / "eval.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_gate_picks_the_smallest_quant_within_tolerance() -> None:
    fp16 = report("F16", size=500)
    q8 = report("Q8_0", nll=1.02, size=300)
    q4 = report("Q4_K_M", nll=1.05, size=200)
    q2 = report("Q2_K", skill="stealth", size=100)
    decision = pick_quant(fp16, [q8, q4, q2], Tolerance(score_drop=0.05, perplexity_rise=0.10))
    assert decision.chosen == "Q4_K_M"
    failed = {c.label: c.failures for c in decision.checks if not c.passed}
    assert set(failed) == {"Q2_K"} and any("exact skill" in f for f in failed["Q2_K"])
    strict = pick_quant(fp16, [q8, q4], Tolerance(perplexity_rise=0.03))
    assert strict.chosen == "Q8_0"
    assert not within_tolerance(fp16, q4, Tolerance(per_metric={"perplexity": 0.01})).passed
    assert pick_quant(fp16, [q2]).chosen is None
