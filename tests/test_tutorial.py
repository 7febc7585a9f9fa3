"""Every shell command in docs/tutorial.md runs, in order, in a fresh copy of the project.

Each ```bash block carries a marker in the HTML comment right above it:
``<!-- tested -->`` (run here, fast), ``<!-- tested: slow -->`` (trains or exports a real model:
run by the slow test) or ``<!-- not-run: why -->`` (interactive, needs a phone or the network).
A block without a marker fails the test, so a new command cannot slip in untested.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*(tested(?::\s*slow)?|not-run:\s*[^>]+?)\s*-->\s*\n*$")


@dataclass(frozen=True)
class Block:
    line: int
    marker: str
    code: str


def bash_blocks(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()]
        marker = MARKER.search(before[-300:])
        line = before.count("\n") + 1
        blocks.append(Block(line, marker.group(1) if marker else "", match.group(1)))
    return blocks


def project_copy(tmp_path: Path) -> Path:
    """What a fresh clone holds that the commands touch: scenarios and recipes."""
    project = tmp_path / "dndtune"
    shutil.copytree(ROOT / "training-data", project / "training-data")
    shutil.copytree(ROOT / "recipes", project / "recipes")
    return project


def run_blocks(blocks: list[Block], project: Path, timeout: float) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for block in blocks:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=project, env=env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, (f"docs/tutorial.md:{block.line}: exit {result.returncode}\n{block.code}\n"
                                        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")


def test_every_block_says_whether_it_runs() -> None:
    blocks = bash_blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert blocks, "no bash blocks found"
    unmarked = [b.line for b in blocks if not b.marker]
    assert not unmarked, f"bash blocks without <!-- tested --> or <!-- not-run: why --> at lines {unmarked}"
    assert sum(b.marker == "tested" for b in blocks) >= 5


def test_fast_commands_run(tmp_path: Path) -> None:
    blocks = [b for b in bash_blocks(TUTORIAL.read_text(encoding="utf-8")) if b.marker == "tested"]
    run_blocks(blocks, project_copy(tmp_path), timeout=300)


@pytest.mark.slow
def test_whole_tutorial_runs_including_training(tmp_path: Path) -> None:
    blocks = [b for b in bash_blocks(TUTORIAL.read_text(encoding="utf-8")) if b.marker.startswith("tested")]
    run_blocks(blocks, project_copy(tmp_path), timeout=3600)
