"""Evaluation reports with chosen figures, for tests of what is done with a report (goals, summaries)."""

from __future__ import annotations

from typing import Any

from dndtune.evaluate.consistency import ConsistencyScores
from dndtune.evaluate.quality import QualityScores
from dndtune.evaluate.regression import CaseResult, RegressionReport
from dndtune.evaluate.report import DataInfo, EvalReport, ModelInfo
from dndtune.evaluate.toolcalls import ToolCallScores

PERFECT: dict[str, Any] = {"recall": 1.0, "precision": 1.0, "false_call_rate": 0.0, "exact_skill": 1.0,
                           "json_validity": 1.0, "stop_rate": 1.0, "leak_rate": 0.0, "passed": 14, "cases": 14}


def goal_report(**figures: Any) -> EvalReport:
    """A report with the goals' figures set (everything else at its default)."""
    f = {**PERFECT, **figures}
    cases = [CaseResult(id=f"case-{i}", passed=i < f["passed"], reason="", reply="") for i in range(f["cases"] or 0)]
    regression = None if f["cases"] is None else RegressionReport(
        cases=cases, passed=f["passed"], pass_rate=f["passed"] / f["cases"] if f["cases"] else None)
    return EvalReport(
        model=ModelInfo(label="demo-Q8_0", kind="gguf", path="/runs/demo/export/demo-Q8_0.gguf", family="gemma3"),
        data=DataInfo(source="eval.jsonl", turns=10, evaluated_turns=10), max_tokens=160,
        tool_calls=ToolCallScores(recall=f["recall"], precision=f["precision"], false_call_rate=f["false_call_rate"],
                                  exact_skill=f["exact_skill"], json_validity=f["json_validity"]),
        consistency=ConsistencyScores(),
        quality=QualityScores(stop_rate=f["stop_rate"], leak_rate=f["leak_rate"]),
        regression=regression,
    )
