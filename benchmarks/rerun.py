"""Quick reruns: a first run against a no-change rerun and a rerun after editing one scenario.

    python benchmarks/rerun.py                                  # the demo recipe, as `npm run demo` runs it
    python benchmarks/rerun.py --set train.max_steps=10 --set evaluate.max_turns=10   # a shorter try

Each phase runs ``dndtune --recipe R`` in its own process, the way a user reruns it, on copies of
the recipe and ``training-data/`` in a work folder (the edit never touches the repository). For each phase it
prints the time to the first training step, the time to the end, and the peak memory of that
process, and each figure as a ratio of the first run's. The goal (issue 13): the no-change rerun
takes at most 5 s and says nothing changed; the edited rerun writes a new version beside the first.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP_LINE = re.compile(r"\[train\] step \d+/\d+|train\s+[━╸ ]*\s*\d+/\d+")


@dataclass
class Phase:
    name: str
    first_step_s: float | None
    total_s: float
    peak_rss_bytes: int
    exit_code: int
    last_lines: list[str]


def run_phase(name: str, command: list[str], cwd: Path) -> Phase:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    first_step: float | None = None
    lines: list[str] = []
    for line in process.stdout:
        if first_step is None and STEP_LINE.search(line):
            first_step = time.perf_counter() - started
        lines.append(line.rstrip())
    # wait4 gives this child's own peak memory (RUSAGE_CHILDREN would be the maximum over every phase).
    _, status, usage = os.wait4(process.pid, 0)
    total = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Phase(name, first_step, total, usage.ru_maxrss * 1024, process.returncode, lines[-12:])


def edit_one_scenario(scenarios: Path) -> Path:
    """A real content change to one file: a word in its text, so its conversations differ."""
    for path in sorted(scenarios.glob("*/*.md")):
        text = path.read_text(encoding="utf-8")
        if " the " in text:
            path.write_text(text.replace(" the ", " that ", 1), encoding="utf-8")
            return path
    raise SystemExit("no scenario to edit")


def ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.3f}x" if value is not None and base else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="demo-cpu")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary one)")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="dndtune-rerun-"))
    scenarios = work / "training-data"
    shutil.copytree(ROOT / "training-data", scenarios, dirs_exist_ok=True)
    source = ROOT / "recipes" / f"{args.recipe}.yaml" if not args.recipe.endswith(".yaml") else Path(args.recipe)
    # A copy: the three phases must see the same recipe even if the checkout's changes meanwhile.
    recipe = work / source.name
    shutil.copy2(source, recipe)
    command = [sys.executable, "-m", "dndtune", "--recipe", str(recipe),
               "--set", f"data.scenarios_dir={scenarios}", "--set", f"output.dir={work / 'training-output'}",
               *(x for item in args.overrides for x in ("--set", item))]
    print(f"work folder: {work}\ncommand: {' '.join(command)}\n", flush=True)

    phases = [run_phase("first run", command, ROOT)]
    phases.append(run_phase("no-change rerun", command, ROOT))
    edited = edit_one_scenario(scenarios)
    phases.append(run_phase(f"one edit ({edited.relative_to(scenarios)})", command, ROOT))

    base = phases[0]
    print(f"{'phase':<40} {'first step':>11} {'ratio':>8} {'end':>9} {'ratio':>8} {'peak RSS':>9} {'ratio':>8}")
    for phase in phases:
        first = f"{phase.first_step_s:.1f} s" if phase.first_step_s is not None else "-"
        print(f"{phase.name:<40} {first:>11} {ratio(phase.first_step_s, base.first_step_s):>8} "
              f"{phase.total_s:>7.1f} s {ratio(phase.total_s, base.total_s):>8} "
              f"{phase.peak_rss_bytes / 2**30:>6.2f} GiB {ratio(phase.peak_rss_bytes, base.peak_rss_bytes):>8}")
    for phase in phases:
        print(f"\n--- {phase.name} (exit {phase.exit_code}), last lines:")
        print("\n".join(phase.last_lines))
    runs = sorted(p.name for p in (work / "training-output" / "runs").iterdir() if not p.name.startswith("."))
    print(f"\nrun folders: {', '.join(runs)}")
    return 0 if all(p.exit_code == 0 for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
