"""Evaluation of exported and merged models: tool calls, roll-result use, quality, regressions.

Public API::

    from dndtune.evaluate import evaluate, EvalOptions, open_runner, load_jsonl
    report = evaluate(open_runner(Path("model.gguf")), load_jsonl(Path("eval.jsonl")))
    report.headline()   # {"recall": ..., "exact_skill": ..., "perplexity": ...}

See ``docs/evaluation.md`` for what each score means.
"""

from dndtune.evaluate.evaluator import EvalOptions, evaluate
from dndtune.evaluate.examples import DmTurn, EvalExample, dm_turns, load_jsonl, load_scenario_folder
from dndtune.evaluate.gate import GateDecision, Tolerance, pick_quant, within_tolerance
from dndtune.evaluate.hf_runner import HFRunner
from dndtune.evaluate.judge import Judge, JudgeItem, JudgeVerdict, RuleJudge
from dndtune.evaluate.llama_runner import LlamaCppRunner
from dndtune.evaluate.open_model import open_runner
from dndtune.evaluate.report import EvalFile, EvalReport, read_eval_file, write_eval_file
from dndtune.evaluate.runner import Generation, GenerationSettings, ModelRunner, TurnScore

__all__ = [
    "DmTurn", "EvalExample", "EvalFile", "EvalOptions", "EvalReport", "GateDecision", "Generation",
    "GenerationSettings", "HFRunner", "Judge", "JudgeItem", "JudgeVerdict", "LlamaCppRunner", "ModelRunner",
    "RuleJudge", "Tolerance", "TurnScore", "dm_turns", "evaluate", "load_jsonl", "load_scenario_folder",
    "open_runner", "pick_quant", "read_eval_file", "within_tolerance", "write_eval_file",
]
