from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.evaluate import EvalOptions, evaluate
from dndtune.evaluate.examples import EvalExample
from dndtune.evaluate.regression import CaseResult, RegressionReport
from dndtune.evaluate.report import write_eval_file
from dndtune.play.ratings import Rating, append_rating
from dndtune.registry import (
    PerfRecord,
    Registry,
    list_versions,
    measure,
    promote,
    record_perf,
    rollback,
    warnings_against,
)
from tests.evaluate.models import TinyModels, make_run
from tests.evaluate.samples import quiet_conversation, roll_conversation
from tests.evaluate.scripted import ScriptedRunner, qwen_call


def _runs(tmp_path: Path, tiny: TinyModels, *names: str) -> Path:
    for name in names:
        make_run(tmp_path, tiny, name)
    return tmp_path


def test_promote_rollback_and_history(tiny: TinyModels, tmp_path: Path) -> None:
    root = _runs(tmp_path, tiny, "v1", "v2", "v3")
    promote(root, "v1")
    promote(root, "v2", note="better tool calls")
    promote(root, "v3")
    assert Registry(root).read().promoted == "v3"
    back = rollback(root)
    assert (back.version, back.previous) == ("v2", "v3")
    assert rollback(root).version == "v1"
    with pytest.raises(DndtuneError, match="no earlier promoted version"):
        rollback(root)
    state = Registry(root).read()
    assert state.promoted == "v1"
    assert [(e.action, e.version) for e in state.history] == [
        ("promote", "v1"), ("promote", "v2"), ("promote", "v3"), ("rollback", "v2"), ("rollback", "v1")]
    assert state.history[1].note == "better tool calls" and state.history[0].sha256
    with pytest.raises(DndtuneError, match="already the promoted version"):
        promote(root, "v1")


def test_promote_needs_an_exported_gguf(tiny: TinyModels, tmp_path: Path) -> None:
    run = make_run(tmp_path, tiny, "raw")
    for gguf in (run / "export").glob("*.gguf"):
        gguf.unlink()
    with pytest.raises(DndtuneError, match="no exported GGUF"):
        promote(tmp_path, "raw")


def test_concurrent_promotions_lose_no_history(tiny: TinyModels, tmp_path: Path) -> None:
    root = _runs(tmp_path, tiny, *(f"c{i}" for i in range(6)))
    errors: list[Exception] = []

    def go(name: str) -> None:
        try:
            promote(root, name)
        except DndtuneError as exc:  # "already promoted" is fine; lost updates are not
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(f"c{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = Registry(root).read()
    assert len(state.history) == 6 - len(errors) == 6
    assert json.loads((root / "registry.json").read_text())["promoted"] == state.promoted


def test_damaged_registry_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "registry.json").write_text('{"promoted": 3, "history": "x"}')
    with pytest.raises(DndtuneError, match=r"registry\.json is damaged"):
        Registry(tmp_path).read()


def _evaluated(run: Path, skill: str, regression_pass: dict[str, bool]) -> None:
    def reply(messages: list[dict[str, object]]) -> str:
        if messages[-1]["role"] == "tool":
            return "Mira notices the skeletons."
        if "listens" in str(messages[-1]["content"]):
            return "Mira listens." + qwen_call(skill, "Mira")
        return "The chapel is quiet."

    examples = [EvalExample(messages=roll_conversation(), tools=[], source="a"),
                EvalExample(messages=quiet_conversation(), tools=[], source="b")]
    report = evaluate(ScriptedRunner(reply, label=run.name), examples, options=EvalOptions(regression=False))
    report.regression = RegressionReport(cases=[CaseResult(id=k, passed=v, reason="", reply="")
                                                for k, v in regression_pass.items()])
    write_eval_file(run / "eval.json", [report])


def test_versions_carry_scores_ratings_and_perf(tiny: TinyModels, tmp_path: Path) -> None:
    root = _runs(tmp_path, tiny, "good", "worse")
    _evaluated(root / "runs" / "good", "perception", {"a": True, "b": True})
    _evaluated(root / "runs" / "worse", "stealth", {"a": True, "b": False})
    sha = json.loads((root / "runs" / "good" / "export" / "model.json").read_text())["sha256"]
    append_rating(root / "runs" / "good" / "ratings.jsonl",
                  Rating(model="good", sha256=sha, turn=1, rating=5, reply="x"))
    append_rating(root / "runs" / "good" / "ratings.jsonl",
                  Rating(model="good", sha256="an-older-export", turn=1, rating=1, reply="x"))
    record_perf(root, "good", PerfRecord(sha256=sha, tokens_per_second=100.0, peak_rss_bytes=100_000_000,
                                         machine="m"))
    record_perf(root, "worse", PerfRecord(sha256=None, tokens_per_second=50.0, peak_rss_bytes=150_000_000,
                                          machine="m"))
    promote(root, "good")
    state = Registry(root).read()
    versions = {v.name: v for v in list_versions(root, state)}
    good, worse = versions["good"], versions["worse"]
    assert good.promoted and not worse.promoted
    assert good.ratings.count == 1 and good.ratings.mean == 5.0
    assert good.scores["exact_skill"] == 1.0 and worse.scores["exact_skill"] == 0.0
    assert good.data_hash == "hash-of-good" and good.quant == "F16" and good.size_bytes
    warnings = warnings_against(worse, good)
    assert any(w.startswith("slower") for w in warnings)
    assert any(w.startswith("more memory") for w in warnings)
    assert any("exact skill" in w for w in warnings)
    assert any("regression suite: b" in w for w in warnings)
    assert warnings_against(good, good) == []


def test_measure_records_real_speed_and_memory(tiny: TinyModels) -> None:
    record = measure(tiny.gguf, tokens=16)
    assert record.tokens_per_second > 0 and record.size_bytes == tiny.gguf.stat().st_size
    assert record.sha256 and record.machine
