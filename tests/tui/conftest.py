"""A fixed project (scenarios, recipes) and a fixed machine report, so TUI tests and snapshots repeat exactly."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from dndtune.env.environment import EnvReport
from dndtune.pipeline import Stage
from tui.app import DndtuneApp, make_app
from tui.settings import TuiSettings

SCENARIOS = Path(__file__).parent / "scenarios"
GiB = 2**30

# Relative folders that exist nowhere: the doctor's scenario and model checks then fail the same
# way on every machine, which is what a snapshot needs (and shows what a failed check looks like).
# With no profile and no local config the memory estimate is "cannot estimate", so the snapshots
# do not change each time the estimator's constants are tuned (tests/tui/test_memory_estimate.py
# covers the gauge).
SNAPSHOT_RECIPE = """\
base_model:
  name_or_path: models/my-gemma
data:
  scenarios_dir: my-scenarios
train:
  max_steps: 60
  lr: 0.0002
output:
  dir: no-such-output
  run_name: snapshot
"""


def fake_environment() -> EnvReport:
    """A CPU laptop with 16 GB of RAM; every figure fixed."""
    return EnvReport(
        python="3.11.9", os="Linux 6.8", machine="x86_64", torch_version="2.5.1+cpu", backend="cpu",
        cuda_version=None, gpus=(), cpu_cores=8, cpu_physical_cores=4, cpu_bf16=False,
        ram_total=16 * GiB, ram_available=12 * GiB, disk_path=Path("/home/user/dnd"), disk_free=200 * 10**9,
        modules={"unsloth": False, "unsloth_zoo": False, "bitsandbytes": False, "llama_cpp": True, "pynvml": False},
        packages={"torch": "2.5.1+cpu", "transformers": "4.57.1", "trl": "0.24.0", "peft": "0.17.1",
                  "llama-cpp-python": "0.3.36"},
        hub_offline=True,
    )


def write_project(root: Path, recipes: dict[str, str]) -> Path:
    data = root / "training-data"
    shutil.copytree(SCENARIOS, data)
    (root / "recipes").mkdir(parents=True)
    for name, text in recipes.items():
        (root / "recipes" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def anyio_backend() -> str:
    # Textual runs on asyncio; the anyio plugin would otherwise also try trio.
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", {"snapshot": SNAPSHOT_RECIPE})


def build_app(project: Path, *, screen: str = "environment", recipe: str | None = "snapshot",
              watch_interval: float = 0.0, memory_interval: float = 0.0,
              stages: Sequence[Stage] | None = None) -> DndtuneApp:
    settings = TuiSettings(scenarios_dir=project / "training-data", recipe=recipe, cwd=project, cache_dir=None,
                           watch_interval=watch_interval, memory_interval=memory_interval, start_screen=screen)
    return make_app(settings, environment=fake_environment(), stages=stages)
