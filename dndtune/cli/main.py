"""Entry point: ``dndtune <command> ...``.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func``. Heavy imports (torch, transformers) happen inside the command
functions so ``dndtune --help`` stays instant. The console script is ``tui.launch:main``: it adds
the ``tui`` command and opens the app for a bare ``dndtune`` at a terminal, so this package never
imports the app.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from dndtune import __version__
from dndtune.cli.run import run_recipe
from dndtune.errors import DndtuneError

# Modules under dndtune.cli that register a subcommand, in the order --help lists them.
COMMAND_MODULES = ("validate", "dataset", "scenarios", "export", "doctor", "eval", "play", "deploy", "models")

Register = Callable[[Any], None]
"""Adds one subcommand to the ``add_subparsers()`` object (how a face outside the library adds its own)."""


def build_parser(extra_commands: Sequence[Register] = ()) -> argparse.ArgumentParser:
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
    stages = parser.add_mutually_exclusive_group()
    stages.add_argument("--until", metavar="STAGE",
                        help="with --recipe: run the stages up to and including STAGE "
                             "(doctor, model, dataset, train, merge, export, evaluate)")
    stages.add_argument("--stages", metavar="A,B", type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
                        help="with --recipe: run only these stages (and the ones they need), e.g. --stages dataset")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"dndtune.cli.{name}")
        module.register(sub)
    for register in extra_commands:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, extra_commands: Sequence[Register] = (),
         no_command: Callable[[], int] | None = None) -> int:
    """Run one command; ``no_command`` is what a bare ``dndtune`` does (default: print the usage)."""
    parser = build_parser(extra_commands)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None and args.recipe:
        func = run_recipe
    if func is None:
        if no_command is not None:
            return no_command()
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
