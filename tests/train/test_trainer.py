"""The training engine end to end on a tiny Gemma 3: steps, events, checkpoints, stop, resume, divergence."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dndtune.errors import DndtuneError
from dndtune.events import Event, ListSink
from dndtune.runs import RunLayout
from dndtune.train.collate import LabelCheckingCollator
from dndtune.train.job import TrainResult
from dndtune.train.trainer import train_adapter
from tests.fixtures.tiny_models import EVAL, TRAIN, conversation, tiny_job


def of_kind(sink: ListSink, kind: str) -> list[Event]:
    return [e for e in sink.events if e.kind == kind]


def test_a_few_steps_emit_metrics_and_write_checkpoints(tiny_gemma3: Path, tmp_path: Path) -> None:
    sink = ListSink()
    result = train_adapter(tiny_job(tiny_gemma3, tmp_path), TRAIN, EVAL, sink)

    assert result.status == "completed" and result.step == 4 and result.engine == "trl"
    steps = of_kind(sink, "train.step")
    assert [e.data["step"] for e in steps] == [1, 2, 3, 4]
    for event in steps:
        data = event.data
        assert math.isfinite(data["loss"]) and data["max_steps"] == 4
        assert set(data) >= {"step", "max_steps", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "eta_s",
                             "mem_bytes"}
        assert data["tokens_per_s"] > 0 and data["mem_bytes"] > 0
    assert [e.data["step"] for e in of_kind(sink, "train.eval")] == [2, 4]
    assert [e.data["step"] for e in of_kind(sink, "train.checkpoint")] == [2, 4]
    labels = of_kind(sink, "train.labels")[0].data
    assert labels["split"] == "train" and 0 < labels["trained_tokens"] < labels["tokens"]

    layout = RunLayout(tmp_path)
    assert (layout.checkpoints / "checkpoint-4" / "trainer_state.json").is_file()
    assert (layout.adapter / "adapter_model.safetensors").is_file()
    assert (layout.adapter / "chat_template.jinja").is_file() or "chat_template" in json.loads(
        (layout.adapter / "tokenizer_config.json").read_text())
    lines = [json.loads(line) for line in layout.metrics.read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [1, 2, 3, 4]
    assert result.final_loss == steps[-1].data["loss"]
    assert result.best_eval_loss == min(e.data["eval_loss"] for e in of_kind(sink, "train.eval"))
    assert layout.loss_plot.read_bytes()[:4] == b"\x89PNG"


class StopAt:
    """An event sink that sets the stop flag once it sees ``step``, like the TUI's pause button."""

    def __init__(self, stop: threading.Event, step: int) -> None:
        self.stop, self.step, self.sink = stop, step, ListSink()

    def emit(self, event: Event) -> None:
        self.sink.emit(event)
        if event.kind == "train.step" and event.data["step"] == self.step:
            self.stop.set()


def test_stop_then_rerun_resumes_where_it_stopped(tiny_gemma3: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    watcher = StopAt(stop, step=2)
    first = train_adapter(tiny_job(tiny_gemma3, tmp_path / "a", max_steps=6), TRAIN, EVAL, watcher, stop_event=stop)
    # The flag was seen at the end of the next optimizer step, which then checkpointed.
    assert first.status == "stopped" and first.step == 3 and first.adapter_dir is None
    assert first.checkpoint == tmp_path / "a" / "checkpoints" / "checkpoint-3"
    assert (first.checkpoint / "trainer_state.json").is_file()
    assert of_kind(watcher.sink, "train.stopping")

    sink = ListSink()
    second = train_adapter(tiny_job(tiny_gemma3, tmp_path / "a", max_steps=6), TRAIN, EVAL, sink)
    assert second.status == "completed" and second.resumed_from_step == 3 and second.step == 6
    assert of_kind(sink, "train.resume")[0].data["step"] == 3
    assert of_kind(sink, "train.begin")[0].data["step"] == 3
    assert [e.data["step"] for e in of_kind(sink, "train.step")] == [4, 5, 6]

    # Same data order, RNG and schedule as a run that was never interrupted.
    straight = train_adapter(tiny_job(tiny_gemma3, tmp_path / "b", max_steps=6), TRAIN, EVAL, ListSink())
    resumed_w = load_file(str(second.adapter_dir / "adapter_model.safetensors"))  # type: ignore[operator]
    straight_w = load_file(str(straight.adapter_dir / "adapter_model.safetensors"))  # type: ignore[operator]
    assert resumed_w.keys() == straight_w.keys()
    for name, tensor in straight_w.items():
        torch.testing.assert_close(resumed_w[name], tensor, rtol=1e-4, atol=1e-6)


def test_no_resume_starts_over_and_changed_setup_is_refused(tiny_gemma3: Path, tmp_path: Path) -> None:
    train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=2), TRAIN, EVAL, ListSink())
    with pytest.raises(DndtuneError, match="different model, dataset or training setup"):
        train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=2, lr=1e-2), TRAIN, EVAL, ListSink())
    sink = ListSink()
    result = train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=2, lr=1e-2, resume=False), TRAIN, EVAL, sink)
    assert result.resumed_from_step is None and of_kind(sink, "train.fresh")


def test_raising_max_steps_continues_a_finished_run(tiny_gemma3: Path, tmp_path: Path) -> None:
    train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=2), TRAIN, EVAL, ListSink())
    more = train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=4), TRAIN, EVAL, ListSink())
    assert more.resumed_from_step == 2 and more.step == 4


def test_divergence_stops_with_a_clear_error(tiny_gemma3: Path, tmp_path: Path) -> None:
    sink = ListSink()
    with pytest.raises(DndtuneError, match=r"training diverged.*lower train\.lr"):
        train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=6, lr=1e30, save_steps=6, eval_steps=6),
                      TRAIN, EVAL, sink)
    assert of_kind(sink, "train.diverged")
    assert not (tmp_path / "checkpoints" / "checkpoint-6").exists()


def test_early_stopping_keeps_the_best_checkpoint(tiny_gemma3: Path, tmp_path: Path) -> None:
    # A learning rate this small cannot move the eval loss, so the second evaluation is no better.
    sink = ListSink()
    result = train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=8, lr=1e-12, early_stopping_patience=1),
                           TRAIN, EVAL, sink)
    assert result.status == "completed" and result.early_stopped and result.step == 4
    assert of_kind(sink, "train.early_stop")
    assert result.adapter_dir is not None and (result.adapter_dir / "adapter_model.safetensors").is_file()


def test_a_batch_without_trainable_tokens_is_refused() -> None:
    collate = LabelCheckingCollator(pad_token_id=0)
    ok = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5], "labels": [-100]}])
    assert ok["labels"].shape == (2, 3)
    with pytest.raises(DndtuneError, match="no trainable"):
        collate([{"input_ids": [5, 6], "labels": [-100, -100]}])


def test_loss_weights_are_padded_like_the_labels() -> None:
    collate = LabelCheckingCollator(pad_token_id=0)
    batch = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "loss_weights": [1.0, 1.0, 4.0]},
                     {"input_ids": [5, 6], "labels": [-100, 6], "loss_weights": [1.0, 4.0]}])
    assert batch["loss_weights"].tolist() == [[1.0, 1.0, 4.0], [1.0, 4.0, 1.0]]


def test_decision_weight_trains_and_keeps_the_eval_loss_plain(tiny_gemma3: Path, tmp_path: Path) -> None:
    plain = train_adapter(tiny_job(tiny_gemma3, tmp_path / "plain", max_steps=2), TRAIN, EVAL, ListSink())
    sink = ListSink()
    weighted = train_adapter(tiny_job(tiny_gemma3, tmp_path / "weighted", max_steps=2, decision_loss_weight=4.0),
                             TRAIN, EVAL, sink)
    assert weighted.status == "completed" and not [e for e in sink.events if e.kind == "train.weights.unsupported"]
    # Same data and seed: the first step's eval loss differs only through what the weighted step learnt.
    plain_losses = [h["loss"] for h in plain.history if "loss" in h]
    weighted_losses = [h["loss"] for h in weighted.history if "loss" in h]
    assert weighted_losses and plain_losses and weighted_losses != plain_losses
    assert weighted.resume_key != plain.resume_key


def test_result_serialises(tiny_gemma3: Path, tmp_path: Path) -> None:
    result = train_adapter(tiny_job(tiny_gemma3, tmp_path, max_steps=1, save_steps=1, eval_steps=1), TRAIN, [],
                           ListSink())
    data = json.loads(json.dumps(result.as_dict()))
    assert data["status"] == "completed" and data["eval_labels"] is None and data["best_eval_loss"] is None
    assert isinstance(result, TrainResult)


def test_gradient_accumulation_matches_a_bigger_batch(tiny_gemma3: Path, tmp_path: Path) -> None:
    # Conversations of different lengths, so the bigger batch is padded and the loss must be
    # normalised over trained tokens, not sequences, for the two to agree.
    data = [conversation(i) for i in range(4)]
    for extra, example in zip((0, 40, 3, 90), data, strict=True):
        example["messages"][-1]["content"] += " The torch flickers." * extra
    common = {"max_steps": 2, "save_steps": 2, "eval_steps": 2, "lr": 5e-2}
    big = train_adapter(tiny_job(tiny_gemma3, tmp_path / "big", batch_size=2, grad_accum=1, **common), data, [],
                        ListSink())
    accumulated = train_adapter(tiny_job(tiny_gemma3, tmp_path / "acc", batch_size=1, grad_accum=2, **common), data,
                                [], ListSink())
    a = load_file(str(big.adapter_dir / "adapter_model.safetensors"))  # type: ignore[operator]
    b = load_file(str(accumulated.adapter_dir / "adapter_model.safetensors"))  # type: ignore[operator]
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, rtol=1e-3, atol=1e-5)
