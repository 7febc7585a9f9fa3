"""``dndtune --recipe``: dry run, a headless run to a merged model, Ctrl-C handling and the progress lines."""

from __future__ import annotations

import io
import json
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.cli.run import RunConsole, stop_on_interrupt, summary
from dndtune.events import ListSink, TrainBegan, TrainStep
from dndtune.pipeline import PipelineResult, build_pipeline
from dndtune.recipe.loader import parse_recipe

SCENARIOS = Path(__file__).resolve().parents[2] / "training-data"


def write_recipe(path: Path, model: Path, out: Path) -> Path:
    recipe = {
        "base_model": {"name_or_path": str(model), "dtype": "float32"},
        "data": {"scenarios_dir": str(SCENARIOS), "max_seq_length": 2048, "max_per_category": 1,
                 "augment": {"enabled": False}, "eval_fraction": 0.2},
        "lora": {"r": 4, "alpha": 8},
        "train": {"max_steps": 2, "batch_size": 1, "grad_accum": 1, "save_steps": 2, "eval_steps": 2,
                  "early_stopping_patience": None, "gradient_checkpointing": False, "engine": "trl"},
        "output": {"dir": str(out), "run_name": "cli"},
    }
    path.write_text(json.dumps(recipe))  # JSON is YAML
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNDTUNE_CACHE_DIR", str(tmp_path / "cache"))


def test_dry_run_prints_the_plan_and_trains_nothing(tiny_qwen2: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", tiny_qwen2, tmp_path / "out")
    assert main(["--recipe", str(recipe), "--dry-run", "--set", "train.max_steps=3"]) == 0
    out = capsys.readouterr().out
    assert "# Plan" in out and "max_steps: 3" in out
    assert not (tmp_path / "out").exists()


def test_headless_run_ends_with_a_summary(tiny_qwen2: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # Export has its own tests and needs llama.cpp's converter; this checks the run up to the merge.
    recipe = write_recipe(tmp_path / "r.yaml", tiny_qwen2, tmp_path / "out")
    assert main(["--recipe", str(recipe), "--until", "merge"]) == 0
    captured = capsys.readouterr()
    run_dir = tmp_path / "out" / "runs" / "cli"
    assert f"run cli: completed  ({run_dir})" in captured.out
    assert f"merged    {run_dir / 'merged'}" in captured.out and f"adapter   {run_dir / 'adapter'}" in captured.out
    assert "[train] step 2/2 loss" in captured.err  # not a terminal: plain progress lines
    assert "[train] step 2 eval loss" in captured.err
    assert (run_dir / "merged" / "config.json").is_file()


def test_first_interrupt_requests_a_stop_second_aborts() -> None:
    stop = threading.Event()
    stream = io.StringIO()
    with stop_on_interrupt(stop, RunConsole(stream)):
        signal.raise_signal(signal.SIGINT)
        assert stop.is_set()
        assert "stopping after the current step" in stream.getvalue()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_lines_are_throttled_in_logs() -> None:
    stream = io.StringIO()
    console = RunConsole(stream)
    console.emit(TrainBegan(message="training from step 0 to 100", step=0, max_steps=100))
    for step in range(1, 101):
        console.emit(TrainStep(step=step, max_steps=100, loss=2.0, lr=1e-4, tokens_per_s=900.0, eta_s=100 - step,
                               mem_bytes=2**30))
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("[train] step")]
    assert len(lines) == 21 and lines[0].startswith("[train] step 1/100 loss 2.0000")
    assert "900 tok/s" in lines[0] and "eta 1m39s" in lines[0] and "mem 1.0 GiB" in lines[0]
    assert lines[-1].startswith("[train] step 100/100")


@dataclass(frozen=True)
class FakeManifest:
    quant: str = "Q8_0"
    bytes: int = 299_750_000
    gate: None = None
    """No task-accuracy gate ran (the export's first_fit default)."""


@dataclass(frozen=True)
class FakeExport:
    """The fields of an ExportResult the summary reads."""

    gguf: Path = Path("/runs/demo/export/demo-Q8_0.gguf")
    manifest: FakeManifest = FakeManifest()


def test_summary_names_every_output(tmp_path: Path) -> None:
    recipe = parse_recipe(json.dumps({"base_model": {"profile": "gemma-3-270m"},
                                      "output": {"dir": str(tmp_path), "run_name": "demo"}}))
    ctx = build_pipeline(recipe, ListSink()).context
    ctx.merged = ctx.layout.merged
    ctx.export = FakeExport()
    text = summary(PipelineResult(status="completed", stages={"train": {"seconds": 61.0}}, layout=ctx.layout,
                                  context=ctx))
    assert text.splitlines()[0] == f"run demo: completed  ({ctx.layout.root})"
    assert f"merged    {ctx.layout.merged}" in text
    assert "gguf      /runs/demo/export/demo-Q8_0.gguf (Q8_0, 299.8 MB)" in text
    assert "wall time 1m01s" in text


def test_until_runs_the_first_stages_only(tiny_qwen2: Path, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", tiny_qwen2, tmp_path / "out")
    assert main(["--recipe", str(recipe), "--until", "doctor"]) == 0
    record = json.loads((tmp_path / "out" / "runs" / "cli" / "run.json").read_text())
    assert record["status"] == "completed" and list(record["stages"]) == ["doctor"]


def test_an_unknown_stage_is_one_clear_error(tiny_qwen2: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", tiny_qwen2, tmp_path / "out")
    assert main(["--recipe", str(recipe), "--stages", "doctor,polish"]) == 1
    assert "unknown stage(s): polish" in capsys.readouterr().err
