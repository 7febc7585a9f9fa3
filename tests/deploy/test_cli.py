from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.cli.main import main
from tests.evaluate.models import TinyModels, make_run


def test_deploy_command(tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(tmp_path / "out", tiny, "app-model")
    assets = tmp_path / "assets"
    assert main(["deploy", "app-model", "--to", str(assets), "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert str(assets / "app-model") in out and "[ok ] chat_template" in out and "[FAIL] roll_tool_call" in out
    assert main(["deploy", "app-model", "--to", str(assets), "--output", str(tmp_path / "out"), "--strict"]) == 1
    assert "nothing was installed" in capsys.readouterr().err
