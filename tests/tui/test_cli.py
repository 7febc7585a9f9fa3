"""``dndtune tui`` and bare ``dndtune``: the app in a terminal, the usage text everywhere else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dndtune.cli.main import build_parser
from tui import launch
from tui.launch import main


def test_bare_dndtune_without_a_terminal_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    # Under pytest stdin is not a TTY: scripts and pipes must keep getting the usage text.
    assert main([]) == 0
    assert "usage: dndtune" in capsys.readouterr().out


def test_tui_subcommand_options() -> None:
    parser = build_parser(extra_commands=(launch.register,))
    args = parser.parse_args(["tui", "--scenarios", "my-data", "--recipe", "mobile", "--screen", "train",
                              "--no-watch"])
    assert args.func is launch.run
    assert (args.scenarios, args.tui_recipe, args.screen, args.no_watch) == (Path("my-data"), "mobile", "train",
                                                                             True)
    defaults = parser.parse_args(["tui"])
    assert (defaults.scenarios, defaults.tui_recipe, defaults.screen) == (Path("training-data"), None, "environment")


def test_the_library_does_not_import_the_tui() -> None:
    code = ("import sys, dndtune.pipeline, dndtune.cli.main; dndtune.cli.main.build_parser(); "
            "print(any(m == 'tui' or m.startswith('tui.') or m.startswith('textual') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_library_cli_has_no_tui_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["tui"])
    assert "invalid choice: 'tui'" in capsys.readouterr().err
