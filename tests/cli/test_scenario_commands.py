"""The validate and scenarios subcommands, run through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.cli.main import main
from tests.scenario.test_rules import GOOD


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DNDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "training-data"
    (root / "combat").mkdir(parents=True)
    (root / "combat" / "ok.md").write_text(GOOD)
    return root


def test_validate_clean(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(data)]) == 0
    assert capsys.readouterr().out.strip() == "1 file(s) checked: 1 valid, 0 error(s), 0 warning(s)"


def test_validate_reports_every_problem_and_exits_1(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = data / "combat" / "bad.md"
    bad.write_text(GOOD.replace("HP 28/31", "HP 40/31").replace("17+1 = 18", "17+1 = 19"))
    assert main(["validate", str(data)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{bad}:9: error: Thorin Ironfist: HP 40 exceeds maximum 31",
        f"{bad}:19: error: wrong total: 17+1 = 18, not 19",
        "2 file(s) checked: 1 valid, 2 error(s), 0 warning(s)",
    ]


def test_validate_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "combat" / "warn.md").write_text(GOOD.replace("World: Forgotten Realms\n", ""))
    assert main(["validate", "--format", "json", str(data)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["files"], payload["errors"], payload["warnings"]) == (2, 0, 1)
    assert payload["diagnostics"][0]["line"] == 4
    assert main(["validate", "--strict", str(data)]) == 1


def test_validate_missing_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"dndtune: error: {tmp_path / 'nope'}: no such file or folder "
                   "(pass a scenario .md file or a folder such as training-data/)")


def test_fmt_check_then_fix(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = data / "combat" / "messy.md"
    messy.write_text(GOOD.replace("## User", "## user"))
    assert main(["scenarios", "fmt", "--check", str(data)]) == 1
    assert messy.read_text() != GOOD
    assert main(["scenarios", "fmt", str(data)]) == 0
    assert messy.read_text() == GOOD
    assert main(["scenarios", "fmt", "--check", str(data)]) == 0


def test_index_json(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "index.json"
    assert main(["scenarios", "index", "--root", str(data), "--format", "json", "--out", str(out_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out_file.read_text())
    assert printed["categories"]["combat"]["tool_calls"] == 1


def test_check_lists_unrolled_skills(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "check", "--root", str(data)]) == 0
    assert "combat: never rolled: acrobatics" in capsys.readouterr().out
