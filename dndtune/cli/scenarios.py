"""``dndtune scenarios new|index|fmt|check``: manage a growing folder of scenario files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dndtune.atomic import write_text_atomic
from dndtune.events import NullSink
from dndtune.paths import cache_dir
from dndtune.scenario.create import create_scenario
from dndtune.scenario.formatter import format_text
from dndtune.scenario.index import build_index
from dndtune.scenario.loader import find_scenario_files, load_scenarios, read_scenario_text
from dndtune.scenario.quality import check_quality

DEFAULT_ROOT = Path("training-data")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("scenarios", help="create, index, format and check scenario files")
    cmds = p.add_subparsers(dest="scenarios_command", metavar="ACTION", required=True)

    new = cmds.add_parser("new", help="create a scenario from a category template")
    new.add_argument("--category", required=True, help="combat, social, exploration, puzzle, rest, shop, ...")
    new.add_argument("--title", required=True)
    new.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    new.set_defaults(func=run_new)

    index = cmds.add_parser("index", help="metadata per scenario and totals per category")
    index.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    index.add_argument("--out", type=Path, help="also write the index as JSON to this file")
    index.add_argument("--format", choices=("text", "json"), default="text")
    index.set_defaults(func=run_index)

    fmt = cmds.add_parser("fmt", help="normalise whitespace, header case and TOOLCALL spacing")
    fmt.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_ROOT])
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    fmt.set_defaults(func=run_fmt)

    check = cmds.add_parser("check", help="data-quality checks: duplicates, over-long turns, unrolled skills")
    check.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    check.add_argument("--max-seq-length", type=int, default=1024)
    check.set_defaults(func=run_check)


def run_new(args: argparse.Namespace) -> int:
    path = create_scenario(args.root, args.category, args.title)
    print(f"created {path}; edit it, then run: dndtune validate {path}")
    return 0


def run_index(args: argparse.Namespace) -> int:
    loaded = load_scenarios(args.root, NullSink(), cache_dir())
    index = build_index(loaded.scenarios)
    payload = index.to_json()
    if args.out:
        write_text_atomic(args.out, json.dumps(payload, indent=2) + "\n")
    if args.format == "json":
        print(json.dumps(payload, indent=2))
        return 0
    console = Console()
    table = Table(title=f"{len(index.entries)} scenario(s) in {args.root}")
    for col in ("category", "title", "characters", "skills rolled", "turns", "rolls"):
        table.add_column(col)
    for e in index.entries:
        table.add_row(e.category, e.title, ", ".join(e.characters), ", ".join(e.skills),
                      str(e.turns), str(e.tool_calls))
    console.print(table)
    totals = Table(title="per category")
    for col in ("category", "scenarios", "DM turns", "rolls", "distinct skills"):
        totals.add_column(col)
    for name, t in sorted(index.categories.items()):
        totals.add_row(name, str(t.scenarios), str(t.dm_turns), str(t.tool_calls), str(len(t.skills)))
    console.print(totals)
    if loaded.failed_files:
        console.print(f"{len(loaded.failed_files)} file(s) with errors left out; run: dndtune validate {args.root}")
    return 0


def run_fmt(args: argparse.Namespace) -> int:
    changed = []
    unreadable = 0
    for file, _category in find_scenario_files(list(args.paths)):
        text, problem = read_scenario_text(file)
        if text is None:
            # Left untouched and named; the other files are still formatted.
            print(problem, file=sys.stderr)
            unreadable += 1
            continue
        formatted = format_text(text)
        if formatted == text:
            continue
        changed.append(file)
        if not args.check:
            write_text_atomic(file, formatted)
    verb = "would reformat" if args.check else "reformatted"
    for file in changed:
        print(f"{verb} {file}")
    print(f"{len(changed)} file(s) {verb}" if changed else "all files already formatted")
    return 1 if (args.check and changed) or unreadable else 0


def run_check(args: argparse.Namespace) -> int:
    loaded = load_scenarios(args.root, NullSink(), cache_dir())
    report = check_quality(loaded.scenarios, max_tokens=args.max_seq_length)
    for diagnostic in report.diagnostics:
        print(diagnostic)
    for category, skills in report.unrolled_skills.items():
        if skills:
            print(f"{category}: never rolled: {', '.join(skills)}")
    print(f"{len(loaded.scenarios)} scenario(s) checked, {len(report.diagnostics)} warning(s)", file=sys.stderr)
    if loaded.failed_files:
        # Files with errors (unreadable ones included) are not quality-checked: say so, not silently.
        print(f"{len(loaded.failed_files)} file(s) with errors left out; run: dndtune validate {args.root}",
              file=sys.stderr)
    return 0
