"""The reducer that turns pipeline events into what the Train and Export screens show."""

from __future__ import annotations

from dndtune.events import (
    CheckpointSaved,
    Event,
    ExportDone,
    PipelineStage,
    QuantTried,
    RunFailed,
    RunFinished,
    TrainBegan,
    TrainEval,
    TrainStep,
    VerifyChecked,
)
from tui.memory_probe import MemorySample
from tui.run_state import LOG_LINES, RunState, apply_event, apply_memory, seed_history


def step(n: int, loss: float, **extra: object) -> Event:
    data = {"step": n, "max_steps": 10, "epoch": n / 10, "loss": loss, "lr": 1e-4, "grad_norm": 1.0,
            "tokens_per_s": 500.0, "eta_s": 12.0, "mem_bytes": 1000 + n, **extra}
    return TrainStep(message=f"step {n}/10 loss {loss}", **data)


def test_steps_build_the_loss_curve_and_progress() -> None:
    state = RunState(status="running")
    apply_event(state, TrainBegan(message="training from step 0 to 10", step=0, max_steps=10))
    for n, loss in enumerate([3.0, 2.5, 2.0], start=1):
        apply_event(state, step(n, loss))
    assert state.train_loss == [(1, 3.0), (2, 2.5), (3, 2.0)]
    assert (state.step, state.max_steps, state.progress) == (3, 10, 0.3)
    assert state.peak_memory == 1003 and not state.memory
    assert state.eta_s == 12.0 and state.tokens_per_s == 500.0
    # Step events are shown by the progress line, not repeated in the log.
    assert list(state.log) == ["[train] training from step 0 to 10"]


def test_eval_checkpoint_and_resume_begin() -> None:
    state = RunState(status="running")
    apply_event(state, TrainBegan(message="resuming", step=4, max_steps=8))
    assert state.step == 4
    apply_event(state, TrainEval(message="eval", step=5, eval_loss=1.5))
    apply_event(state, CheckpointSaved(message="saved", step=5, path="out/checkpoint-5"))
    assert state.eval_loss == [(5, 1.5)]
    assert state.checkpoint == "out/checkpoint-5"


def test_export_events_fill_the_ladder_and_result() -> None:
    state = RunState()
    apply_event(state, QuantTried(message="Q8_0: predicted 300 B > 200 B, skipped", quant="Q8_0", predicted_bytes=300,
                                  fits=False, actual_bytes=None, perplexity=None, outcome="skipped"))
    apply_event(state, QuantTried(message="Q4_0: 160 B fits", quant="Q4_0", predicted_bytes=150, fits=True,
                                  actual_bytes=160, perplexity=3.5, outcome="passed"))
    apply_event(state, VerifyChecked(message="ok loads: fine", rung="Q4_0", check="loads", passed=True, required=True))
    apply_event(state, VerifyChecked(message="FAILED stops: no", level="warning", rung="Q4_0", check="stops",
                                     passed=False, required=False))
    apply_event(state, ExportDone(message="m.gguf done", gguf="out/m.gguf", manifest="out/model.json", quant="Q4_0",
                                  bytes=160, sha256="0" * 64, perplexity=None, gen_tps=None))
    assert [(t.quant, t.outcome) for t in state.quant_tries] == [("Q8_0", "skipped"), ("Q4_0", "passed")]
    assert state.quant_tries[1].actual_bytes == 160 and state.quant_tries[1].perplexity == 3.5
    assert [(c.name, c.passed) for c in state.verify] == [("loads", True), ("stops", False)]
    # Only required checks decide: a failed optional behaviour check is a warning.
    assert state.verified is True
    assert (state.export_path, state.export_bytes, state.export_quant, state.manifest_path) == (
        "out/m.gguf", 160, "Q4_0", "out/model.json")


def test_pipeline_stage_and_done_set_the_status() -> None:
    state = RunState(status="running")
    apply_event(state, PipelineStage(stage="train", message="fine-tune", state="start"))
    assert state.stage == "train"
    apply_event(state, RunFinished(message="run stopped", status="stopped", run_dir="training-output/runs/snapshot"))
    assert state.status == "stopped" and not state.active
    apply_event(state, RunFailed(stage="tui", message="boom"))
    assert state.status == "failed" and state.error == "boom"


def test_log_keeps_the_newest_lines_and_counts_all() -> None:
    state = RunState()
    for n in range(LOG_LINES + 5):
        state.add_log(f"line {n}")
    assert len(state.log) == LOG_LINES and state.log_count == LOG_LINES + 5
    assert state.new_log_lines(LOG_LINES + 3) == [f"line {LOG_LINES + 3}", f"line {LOG_LINES + 4}"]
    # A reader far behind gets what is still kept, not an error.
    assert state.new_log_lines(0)[0] == "line 5"


def test_start_forgets_the_previous_attempt() -> None:
    state = RunState(status="stopped")
    apply_event(state, step(1, 2.0))
    state.start()
    assert state.status == "running" and state.train_loss == [] and state.log_count == 0


def test_resume_puts_the_earlier_curve_back() -> None:
    state = RunState(status="running")
    apply_event(state, TrainStep(step=5, loss=1.0))
    lines = ['{"step": 1, "loss": 3.0}', '{"step": 2, "loss": 2.5, "x": 1}', '{"step": 2, "eval_loss": 2.7}',
             "not json", '{"step": 4, "loss": 9.0}', '{"step": 2, "loss": 2.4}', "[1]"]
    seed_history(state, lines, up_to_step=3)
    assert state.train_loss == [(1, 3.0), (2, 2.4), (5, 1.0)]
    assert state.eval_loss == [(2, 2.7)]


def test_memory_samples_feed_the_pane() -> None:
    state = RunState(status="running")
    apply_memory(state, MemorySample(device="GPU 0", used=5, reserved=8, total=80))
    apply_memory(state, MemorySample(device="GPU 0", used=6, reserved=9, total=80))
    assert list(state.memory) == [5, 6]
    assert (state.memory_device, state.memory_reserved, state.memory_total) == ("GPU 0", 9, 80)
