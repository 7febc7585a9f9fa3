"""``dndtune doctor``: the checklist on stdout, exit 1 on any failure, JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.cli.main import main


@pytest.fixture(scope="module")
def tiny_recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dndtune.train.tiny import save_tiny_model

    root = tmp_path_factory.mktemp("doctor-cli")
    model = save_tiny_model("qwen2", root / "model")
    (root / "scenarios").mkdir()
    (root / "scenarios" / "one.md").write_text("# a scenario\n", encoding="utf-8")
    recipe = root / "tiny.yaml"
    recipe.write_text(
        f"# a tiny recipe\nbase_model:\n  name_or_path: {model}\n"
        f"data:\n  scenarios_dir: {root / 'scenarios'}\n  max_seq_length: 128\n"
        f"output:\n  dir: {root / 'out'}\n", encoding="utf-8")
    return recipe


def test_text_checklist(tiny_recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--recipe", str(tiny_recipe)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dndtune doctor — ")
    assert "[ok  ] model: base model: local folder" in out and "(chat template and tokens checked)" in out
    assert "[ok  ] memory: estimated peak" in out
    assert "0 failed" in out


def test_json_and_failure_exit(tiny_recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--recipe", str(tiny_recipe), "--format", "json",
                 "--set", "base_model.name_or_path=/no/such/model"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 1 and payload["verdict"] == "fail"
    model = next(c for c in payload["checks"] if c["name"] == "model")
    assert model["status"] == "fail" and "base model folder not found" in model["message"]
    assert payload["environment"]["backend"] in ("cpu", "cuda", "mps")


def test_without_a_recipe(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["doctor", "--output-dir", str(tmp_path)]) == 0
    assert "[ok  ] python:" in capsys.readouterr().out


def test_recipe_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_model:\n  profile: gemma-3-270m\ntrain:\n  lr: -1\n", encoding="utf-8")
    assert main(["doctor", "--recipe", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.strip().endswith("bad.yaml:4: train.lr: must be > 0 (got -1)")
