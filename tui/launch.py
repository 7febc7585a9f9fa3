"""The ``dndtune`` console script: the library's CLI, plus the app for ``dndtune tui`` and a bare
``dndtune`` typed at a terminal.

The app (Textual) is imported only when it is opened, so every other command starts as fast as
``dndtune.cli`` alone, and the library itself never names this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dndtune.cli.main import main as cli_main
from tui.screen_names import MODES

DEFAULT_SCENARIOS = Path("training-data")


def register(sub: Any) -> None:
    """The ``tui`` subcommand, added to the CLI's parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "tui", help="open the interactive app (what `dndtune` with no arguments does in a terminal)")
    p.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS, metavar="DIR",
                   help=f"scenarios folder to show and validate (default: {DEFAULT_SCENARIOS})")
    p.add_argument("--recipe", dest="tui_recipe", metavar="R",
                   help="recipe selected at start (a path, or a name in recipes/; default: the demo recipe)")
    p.add_argument("--screen", choices=MODES, default="environment", help="screen shown first")
    p.add_argument("--no-watch", action="store_true",
                   help="do not re-validate scenarios when files change (press r to re-validate)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return open_tui(scenarios_dir=args.scenarios, recipe=args.tui_recipe, screen=args.screen,
                    watch=not args.no_watch)


def open_tui(*, scenarios_dir: Path = DEFAULT_SCENARIOS, recipe: str | None = None, screen: str = "environment",
             watch: bool = True) -> int:
    # Here, not at the top: Textual and the screens are only loaded when the app opens.
    from tui.app import make_app
    from tui.settings import TuiSettings

    settings = TuiSettings(scenarios_dir=scenarios_dir, recipe=recipe, start_screen=screen,
                           watch_interval=1.0 if watch else 0.0)
    make_app(settings).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # A person at a terminal gets the app; pipes and scripts keep getting the usage text.
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    return cli_main(argv, extra_commands=(register,), no_command=open_tui if interactive else None)


if __name__ == "__main__":
    raise SystemExit(main())
