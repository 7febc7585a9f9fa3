from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.cli.main import main
from tests.evaluate.models import TinyModels, make_run

ROOT = Path(__file__).resolve().parents[2]


def test_eval_a_run_writes_eval_json_and_chart(tiny: TinyModels, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path, tiny, "cli-run")
    code = main(["eval", "cli-run", "--output", str(tmp_path), "--max-tokens", "4", "--no-regression",
                 "--format", "json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["model"]["label"] == "cli-run-F16" and printed[0]["data"]["evaluated_turns"] == 4
    stored = json.loads((run / "eval.json").read_text())
    assert stored["primary"] == "cli-run-F16" and stored["reports"][0]["grammar"] == "applied"
    assert (run / "eval.png").read_bytes()[:4] == b"\x89PNG"

    # The same model unconstrained, for comparison: the report records it.
    assert main(["eval", "cli-run", "--output", str(tmp_path), "--max-tokens", "4", "--no-regression",
                 "--format", "json", "--no-grammar"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["grammar"] == "off"
    assert json.loads((run / "eval.json").read_text())["reports"][0]["grammar"] == "off"


def test_eval_a_loose_gguf_on_a_scenario_folder_prints_a_table(tiny: TinyModels,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    scenario = ROOT / "training-data" / "rest" / "short-rest-in-the-ruined-watchtower.md"
    code = main(["eval", str(tiny.gguf), "--scenarios", str(scenario), "--max-tokens", "4", "--max-turns", "2",
                 "--no-regression"])
    assert code == 0
    out = capsys.readouterr().out
    assert "tool-call recall" in out and "2/2 DM turns" in out
    assert any("grammar" in line and "applied" in line for line in out.splitlines())


def test_eval_without_data_names_the_fix(tiny: TinyModels, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tiny.gguf)]) == 1
    assert "--scenarios" in capsys.readouterr().err
