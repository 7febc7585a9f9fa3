"""The event catalogue: one class per kind, figures as typed fields, one line format for every face."""

from __future__ import annotations

import dataclasses

import pytest

import dndtune.events as events
from dndtune.events import Event, ListSink, TrainStep, VerifyChecked, format_line


def catalogue() -> list[type[Event]]:
    found = [getattr(events, name) for name in events.__all__]
    return [c for c in found if isinstance(c, type) and issubclass(c, Event) and c is not Event]


def test_every_kind_has_exactly_one_class() -> None:
    kinds = [c.kind for c in catalogue()]
    assert len(kinds) == len(set(kinds)) and "event" not in kinds
    assert all(kind.count(".") >= 1 for kind in kinds)


def test_events_are_frozen_and_their_data_is_their_own_fields() -> None:
    step = TrainStep(message="step 3/10", step=3, max_steps=10, loss=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.step = 4  # type: ignore[misc]
    assert step.stage == "train" and step.level == "debug" and step.kind == "train.step"
    assert step.data["step"] == 3 and step.data["loss"] == 1.5
    assert not {"stage", "message", "level"} & set(step.data)


def test_one_line_format_for_cli_and_tui() -> None:
    failed = VerifyChecked(message="FAILED stops: no", level="warning", rung="Q4_0", check="stops", passed=False,
                           required=False)
    assert format_line(failed) == "[export] warning: FAILED stops: no"
    assert format_line(TrainStep(message="step 1", step=1)) == "[train] step 1"


def test_sinks_keep_kinds_in_order() -> None:
    sink = ListSink()
    sink.emit(TrainStep(step=1))
    sink.emit(failed := VerifyChecked(rung="Q4_0", check="loads", passed=True, required=True))
    assert sink.kinds() == ["train.step", "export.verify"] and sink.events[-1] is failed
