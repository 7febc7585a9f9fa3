"""``dndtune validate [PATH...]``: check scenario files, print every problem as path:line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dndtune.events import NullSink
from dndtune.paths import cache_dir
from dndtune.scenario.loader import load_scenarios

DEFAULT_SCENARIOS = Path("training-data")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "validate", help="check scenario files and print every problem as path:line: message")
    p.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_SCENARIOS],
                   help="scenario files or folders (default: training-data)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors (exit 1)")
    p.add_argument("--no-cache", action="store_true", help="re-parse every file instead of using the parse cache")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = load_scenarios(list(args.paths), NullSink(), None if args.no_cache else cache_dir())
    if args.format == "json":
        payload = {
            "files": result.files,
            "valid": len(result.scenarios),
            "errors": len(result.errors),
            "warnings": len(result.warnings),
            "diagnostics": [d.model_dump(mode="json") for d in result.diagnostics],
        }
        print(json.dumps(payload, indent=2))
    else:
        for diagnostic in result.diagnostics:
            print(diagnostic)
        print(f"{result.files} file(s) checked: {len(result.scenarios)} valid, "
              f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)")
    failed = bool(result.errors) or (args.strict and bool(result.warnings))
    return 1 if failed else 0
