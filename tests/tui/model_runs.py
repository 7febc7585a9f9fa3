"""Run folders for the Evaluate, Play and Models screens: little real GGUFs, fixed eval reports and ratings.

Reports come from :func:`dndtune.evaluate.evaluate` on a scripted runner (no model is loaded), with
their timestamps fixed so snapshots repeat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from dndtune.dataset.chat import Message
from dndtune.evaluate import EvalOptions, evaluate
from dndtune.evaluate.examples import load_jsonl
from dndtune.evaluate.regression import load_cases
from dndtune.evaluate.report import EvalReport, write_eval_file
from dndtune.hashing import sha256_file
from dndtune.play.ratings import Rating, append_rating
from tests.evaluate.samples import eval_jsonl_lines
from tests.evaluate.scripted import ScriptedRunner, qwen_call
from tests.fixtures.gguf_files import fake_gguf
from tests.tui.conftest import write_project

CREATED = "2025-05-01T10:00:00+00:00"
MODELS_RECIPE = """\
base_model:
  name_or_path: models/my-gemma
data:
  scenarios_dir: my-scenarios
output:
  dir: training-output
  run_name: demo
"""


def good_dm(messages: Sequence[Message]) -> str:
    """Calls for the roll a careful DM would (stealth, perception), narrates a roll's result, else narrates."""
    last = messages[-1]
    if last["role"] == "tool":
        result = json.loads(str(last["content"]))
        return f"You rolled {result['total']}. Nothing stirs; you slip past unseen."
    said = str(last["content"]).lower()
    if "sneak" in said or "stealth" in said:
        return "Keep to the shadows." + qwen_call("stealth", "Mira")
    if "listen" in said:
        return "Mira presses her ear to the cold iron." + qwen_call("perception", "Mira")
    return "Grey light falls through the broken windows. What do you do?"


def quiet_dm(messages: Sequence[Message]) -> str:
    """The base model: never calls a tool, rambles."""
    return "I am a helpful assistant. How can I help you today?"


def scripted_report(run: Path, label: str, reply: object) -> EvalReport:
    runner = ScriptedRunner(reply, label=label)  # type: ignore[arg-type]
    report = evaluate(runner, load_jsonl(run / "dataset" / "eval.jsonl"),
                      options=EvalOptions(max_tokens=200, regression_cases=load_cases()[:2]),
                      source=str(run / "dataset" / "eval.jsonl"))
    return report.model_copy(update={"created": CREATED})


def make_version(output: Path, name: str, *, seed: float = 0.0, evaluated: bool = True,
                 ratings: Sequence[int] = (), mtime: float | None = None) -> Path:
    """``<output>/runs/<name>``: run.json, export/<name>-F16.gguf with its manifest, the held-out split,
    ``eval.json`` (the scripted model and a base report) and ``ratings.jsonl``."""
    run = output / "runs" / name
    gguf = fake_gguf(run / "export" / f"{name}-F16.gguf", seed)
    (run / "run.json").write_text(json.dumps({"status": "completed", "dataset": {"hash": f"hash-{name}"},
                                              "model": {"path": "models/my-gemma"}}), encoding="utf-8")
    sha = sha256_file(gguf)
    (run / "export" / "model.json").write_text(json.dumps({"run": name, "file": gguf.name, "quant": "F16",
                                                           "bytes": gguf.stat().st_size, "sha256": sha}),
                                               encoding="utf-8")
    (run / "dataset").mkdir(exist_ok=True)
    (run / "dataset" / "eval.jsonl").write_text("".join(line + "\n" for line in eval_jsonl_lines()),
                                                encoding="utf-8")
    if evaluated:
        reports = [scripted_report(run, gguf.stem, good_dm), scripted_report(run, "base", quiet_dm)]
        write_eval_file(run / "eval.json", reports, primary=gguf.stem)
    for turn, score in enumerate(ratings, start=1):
        append_rating(run / "ratings.jsonl", Rating(at=CREATED, model=gguf.stem, sha256=sha, turn=turn,
                                                    rating=score, player="I sneak past.", reply="You slip past."))
    if mtime is not None:
        import os

        os.utime(run, (mtime, mtime))
    return run


def models_project(root: Path) -> Path:
    """A project whose recipe writes to ``training-output``, with two versions: v1 (older) and v2 (newest)."""
    project = write_project(root / "project", {"models": MODELS_RECIPE})
    output = project / "training-output"
    make_version(output, "demo-v1", seed=0.0, ratings=(5, 4, 5, 4), mtime=1_700_000_000)
    make_version(output, "demo-v2", seed=1.0, ratings=(2, 3, 2), mtime=1_700_000_100)
    return project
