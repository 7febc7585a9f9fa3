"""Entry point: ``dndtune <command> ...``.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func``. Heavy imports (torch, transformers) happen inside the command
functions so ``dndtune --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dndtune import __version__
from dndtune.errors import DndtuneError

# Modules under dndtune.cli that register a subcommand, in the order --help lists them.
COMMAND_MODULES = ("validate", "dataset", "scenarios", "tui", "export", "doctor", "eval", "play", "deploy", "models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dndtune",
        description="Turn Markdown D&D scenarios into a small fine-tuned game-master model.",
    )
    parser.add_argument("--version", action="version", version=f"dndtune {__version__}")
    parser.add_argument("--recipe", metavar="RECIPE",
                        help="run the whole pipeline headless on a recipe (a path, or a name in recipes/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value by its dotted path, e.g. --set train.lr=1e-4 (repeatable)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                        help="with --recipe: continue from the run's latest checkpoint (the default when one fits), "
                             "or --no-resume to start training over")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --recipe: print the resolved recipe and the plan, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"dndtune.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None and args.recipe:
        # Imported lazily: the run command pulls in the training stack.
        from dndtune.cli.run import run_recipe

        func = run_recipe
    if func is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            # A person at a terminal gets the app; pipes and scripts keep getting the usage text.
            from dndtune.cli.tui import open_tui

            return open_tui()
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except DndtuneError as exc:
        print(f"dndtune: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dndtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
