"""``dndtune tui`` (and ``dndtune`` alone in a terminal): open the interactive app.

The app lives in the separate ``tui`` package; it is imported only here, inside the command,
so the library and every other command run without Textual being loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_SCENARIOS = Path("training-data")
SCREENS = ("environment", "scenarios", "recipe", "train", "export")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tui", help="open the interactive app (what `dndtune` with no arguments does in a terminal)")
    p.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS, metavar="DIR",
                   help=f"scenarios folder to show and validate (default: {DEFAULT_SCENARIOS})")
    p.add_argument("--recipe", dest="tui_recipe", metavar="R",
                   help="recipe selected at start (a path, or a name in recipes/; default: the demo recipe)")
    p.add_argument("--screen", choices=SCREENS, default="environment", help="screen shown first")
    p.add_argument("--no-watch", action="store_true",
                   help="do not re-validate scenarios when files change (press r to re-validate)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return open_tui(scenarios_dir=args.scenarios, recipe=args.tui_recipe, screen=args.screen,
                    watch=not args.no_watch)


def open_tui(*, scenarios_dir: Path = DEFAULT_SCENARIOS, recipe: str | None = None, screen: str = "environment",
             watch: bool = True) -> int:
    from tui.app import make_app
    from tui.settings import TuiSettings

    settings = TuiSettings(scenarios_dir=scenarios_dir, recipe=recipe, start_screen=screen,
                           watch_interval=1.0 if watch else 0.0)
    make_app(settings).run()
    return 0
