"""``dndtune doctor [--recipe R] [--set k=v] [--format json]``: can this machine run the recipe?

Prints the environment facts and a pass / warn / fail checklist with a fix for every problem;
exits 1 when anything fails, so scripts can gate on it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dndtune.env.checks import check_environment, check_recipe
from dndtune.env.environment import collect_environment
from dndtune.env.report import DoctorReport
from dndtune.recipe.loader import load_recipe
from dndtune.units import format_size

MARKS = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check the environment (and a recipe) before training: pass / warn / fail with fixes")
    p.add_argument("--recipe", dest="doctor_recipe", metavar="RECIPE",
                   help="also check this recipe: a path, or a name in recipes/ (e.g. demo-cpu)")
    p.add_argument("--set", dest="doctor_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set train.batch_size=1 (repeatable)")
    p.add_argument("--output-dir", type=Path, default=None,
                   help="where outputs will go, for the disk check (default: the recipe's output.dir)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    recipe_name = args.doctor_recipe or getattr(args, "recipe", None)
    overrides = [*(getattr(args, "overrides", None) or []), *args.doctor_overrides]
    recipe = load_recipe(recipe_name, overrides) if recipe_name else None
    output_dir = args.output_dir or (recipe.output.dir if recipe else Path("training-output"))
    env = collect_environment(output_dir)
    checks = check_recipe(recipe, env, deep=True) if recipe else check_environment(env)
    report = DoctorReport(env, tuple(checks))
    if args.format == "json":
        payload = report.as_dict()
        payload["recipe"] = str(recipe.source_path) if recipe else None
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(render_text(report, str(recipe.source_path) if recipe else None))
    return 1 if report.verdict == "fail" else 0


def render_text(report: Any, recipe: str | None) -> str:
    env = report.env
    lines = [
        "dndtune doctor" + (f" — {recipe}" if recipe else ""),
        f"  python {env.python}, {env.os} ({env.machine})",
        f"  torch {env.torch_version or 'missing'}, backend {env.backend}"
        + (f", CUDA {env.cuda_version}" if env.cuda_version else ""),
        f"  CPU {env.cpu_cores} cores, RAM {format_size(env.ram_available)} free of {format_size(env.ram_total)}",
        f"  disk {format_size(env.disk_free)} free at {env.disk_path}",
        "  packages: " + ", ".join(f"{k} {v}" for k, v in env.packages.items() if v),
        "",
    ]
    for check in report.checks:
        lines.append(f"[{MARKS[check.status]}] {check.name}: {check.message}")
        if check.fix and check.status != "pass":
            lines.append(f"       fix: {check.fix}")
    counts = {status: sum(1 for c in report.checks if c.status == status) for status in MARKS}
    lines.append("")
    lines.append(f"{counts['pass']} passed, {counts['warn']} warning(s), {counts['fail']} failed")
    return "\n".join(lines)
