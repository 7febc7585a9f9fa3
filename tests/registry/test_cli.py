from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.registry import PerfRecord, record_perf
from tests.evaluate.models import TinyModels, make_run


def test_models_commands_end_to_end(tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("one", "two"):
        make_run(tmp_path, tiny, name)
    out = ["--output", str(tmp_path)]
    assert main(["models", *out, "promote", "one", "--note", "first ship"]) == 0
    record_perf(tmp_path, "one", PerfRecord(sha256=None, tokens_per_second=200.0, machine="ci"))
    record_perf(tmp_path, "two", PerfRecord(sha256=None, tokens_per_second=100.0, machine="ci"))
    capsys.readouterr()
    assert main(["models", *out, "list", "--format", "json"]) == 0
    listed = {v["name"]: v for v in json.loads(capsys.readouterr().out)}
    assert listed["one"]["promoted"] and listed["two"]["quant"] == "F16"
    assert main(["models", *out, "check", "two"]) == 0
    assert "slower" in capsys.readouterr().out
    assert main(["models", *out, "check", "two", "--strict"]) == 1
    assert main(["models", *out, "promote", "two", "--strict"]) == 1
    assert main(["models", *out, "promote", "two"]) == 0
    assert main(["models", *out, "rollback"]) == 0
    assert main(["models", *out, "history"]) == 0
    history = capsys.readouterr().out
    assert "rollback one" in history.replace("  ", " ") and "promoted now: one" in history
    assert main(["models", *out, "compare", "one", "two"]) == 0
    assert "evaluate both runs first" in capsys.readouterr().out
    assert main(["models", *out, "list"]) == 0
    assert main(["models", *out, "bench", "one", "--tokens", "8"]) == 0
    assert "tok/s decode" in capsys.readouterr().out
