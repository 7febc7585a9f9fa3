"""The Unsloth engine on a tiny model, in a child process (importing Unsloth patches the process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dndtune.machine import is_installed

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from dndtune.train.engine import activate_engine, probe_facts, select_engine

    choice = select_engine("unsloth", load_in_4bit=False, dtype="auto", facts=probe_facts())
    notes = activate_engine(choice)  # before torch/transformers/trl/peft are used
    import torch
    torch.set_num_threads(1)
    from dataclasses import replace
    from dndtune.events import ListSink
    from dndtune.train.trainer import train_adapter
    from tests.fixtures.tiny_models import EVAL, TRAIN, tiny_job

    model, root = Path(sys.argv[1]), Path(sys.argv[2])
    job = replace(tiny_job(model, root, max_steps=2, save_steps=2, eval_steps=2), engine=choice)
    sink = ListSink()
    result = train_adapter(job, TRAIN, EVAL, sink)
    print(json.dumps({"engine": choice.name, "reason": choice.reason, "status": result.status,
                      "losses": [e.data["loss"] for e in sink.events if e.kind == "train.step"],
                      "adapter": str(result.adapter_dir), "notes": notes,
                      "log": [e.message for e in sink.events if e.kind == "train.engine.log"]}))
""")


@pytest.mark.slow  # a child process that imports Unsloth: tens of seconds on a busy CPU
@pytest.mark.skipif(not is_installed("unsloth"), reason="unsloth is not installed")
def test_unsloth_cpu_backend_trains(tiny_gemma3: Path, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_gemma3), str(tmp_path / "run")], cwd=root,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["engine"] == "unsloth" and result["status"] == "completed"
    assert len(result["losses"]) == 2 and all(loss == loss for loss in result["losses"])
    assert (Path(result["adapter"]) / "adapter_model.safetensors").is_file()
    # Unsloth's banner and status lines become events instead of reaching stdout.
    assert any("Unsloth" in note for note in result["notes"]) or any("Unsloth" in m for m in result["log"])
