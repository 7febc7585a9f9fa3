"""``<run>/run.log``: RunLogSink writes the console's lines with timestamps and never breaks a run."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dndtune.events import (
    DoctorCheck,
    Event,
    FanOutSink,
    ListSink,
    RunFinished,
    RunLogSink,
    StageStarted,
    TrainStep,
    format_line,
)
from dndtune.events.logfile import log_line, timestamp
from dndtune.runs import RunLayout

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_layout_names_run_log_and_tensorboard(tmp_path: Path) -> None:
    layout = RunLayout.under(tmp_path, "demo")
    assert layout.run_log == tmp_path / "runs" / "demo" / "run.log"
    assert layout.tensorboard == tmp_path / "runs" / "demo" / "tensorboard"


def test_each_line_is_a_timestamp_and_the_console_line(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "demo" / "run.log"  # the folder does not exist yet
    events: list[Event] = [
        StageStarted(stage="train", message="training"),
        DoctorCheck(stage="doctor", message="disk: 1 GB free", level="warning", name="disk", status="warn",
                    detail="1 GB free", fix=None),
        TrainStep(message="step 1/4 loss 2.0000", step=1, max_steps=4, loss=2.0),
    ]
    with RunLogSink(path) as sink:
        for event in events:
            sink.emit(event)
        assert _lines(path) and len(_lines(path)) == 3, "each line is flushed as it is written"
    lines = _lines(path)
    for line, event in zip(lines, events, strict=True):
        match = re.fullmatch(f"({STAMP}) (.*)", line)
        assert match is not None, line
        assert match.group(2) == format_line(event)
        assert abs(datetime.fromisoformat(match.group(1)) - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert lines[1].endswith("[doctor] warning: disk: 1 GB free")
    assert sink.ok and sink.failure is None and sink.closed


def test_quiet_events_and_debug_filter(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    with RunLogSink(path, include_debug=False) as sink:
        sink.emit(StageStarted(stage="train", message=""))  # nothing to show
        sink.emit(TrainStep(message="step 1/4 loss 2.0000", step=1))  # debug
        sink.emit(RunFinished(message="run finished", status="completed", run_dir="x"))
    assert [line.split(" ", 1)[1] for line in _lines(path)] == ["[pipeline] run finished"]


def test_appends_across_runs_and_ignores_events_after_close(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    for attempt in ("first", "second"):
        with RunLogSink(path) as sink:
            sink.emit(Event(stage="pipeline", message=attempt))
    sink.emit(Event(stage="pipeline", message="too late"))
    sink.close()  # idempotent
    assert [line.split(" ", 1)[1] for line in _lines(path)] == ["[pipeline] first", "[pipeline] second"]


def test_multi_line_message_stays_one_entry(tmp_path: Path) -> None:
    moment = datetime(2025, 6, 1, 14, 3, 7, 512000, tzinfo=timezone(timedelta(hours=2)))
    line = log_line(Event(stage="train", message="engine said:\nline two\n", level="error"), moment)
    assert line == "2025-06-01T14:03:07.512+02:00 [train] error: engine said:\n  line two"
    assert timestamp(moment) == "2025-06-01T14:03:07.512+02:00"


def test_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    with RunLogSink(path) as sink:
        def worker(n: int) -> None:
            for i in range(200):
                sink.emit(Event(stage=f"t{n}", message=f"message {i} " + "x" * 200))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = _lines(path)
    assert len(lines) == 800
    assert all(re.fullmatch(rf"{STAMP} \[t\d\] message \d+ x{{200}}", line) for line in lines)


class _FullDisk:
    """A file whose writes fail the way a full disk does."""

    def __init__(self) -> None:
        self.closed = False

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def test_write_failure_is_reported_once_and_never_raises(tmp_path: Path) -> None:
    reports: list[str] = []
    sink = RunLogSink(tmp_path / "run.log", on_failure=reports.append)
    sink.emit(Event(stage="pipeline", message="before"))
    full = _FullDisk()
    real = sink._file
    assert real is not None
    real.close()
    sink._file = full  # type: ignore[assignment]
    for i in range(3):
        sink.emit(Event(stage="train", message=f"step {i}"))
    sink.close()
    assert not sink.ok and full.closed
    assert reports == [f"could not write {tmp_path / 'run.log'}: No space left on device; "
                       "the run goes on without its log"]
    assert sink.failure == reports[0]
    assert [line.split(" ", 1)[1] for line in _lines(tmp_path / "run.log")] == ["[pipeline] before"]


def test_unopenable_path_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    reports: list[str] = []
    with RunLogSink(blocker / "run.log", on_failure=reports.append) as sink:
        sink.emit(Event(stage="pipeline", message="hello"))
    assert not sink.ok and len(reports) == 1 and str(blocker / "run.log") in reports[0]


def test_failure_callback_may_emit_through_the_same_fan_out(tmp_path: Path) -> None:
    """The lead's wiring: on_failure emits a warning into the fan-out that holds the log sink itself."""
    shown = ListSink()
    fan: FanOutSink | None = None

    def warn(reason: str) -> None:
        assert fan is not None
        fan.emit(Event(stage="pipeline", message=reason, level="warning"))

    log = RunLogSink(tmp_path / "run.log", on_failure=warn)
    fan = FanOutSink(shown, log)
    log._file = _FullDisk()  # type: ignore[assignment]
    fan.emit(Event(stage="train", message="step 1"))  # no deadlock, no exception
    fan.emit(Event(stage="train", message="step 2"))
    log.close()
    assert [e.message for e in shown.events] == ["step 1", log.failure, "step 2"]


def test_failing_callback_is_swallowed(tmp_path: Path) -> None:
    def boom(reason: str) -> None:
        raise RuntimeError(reason)

    sink = RunLogSink(tmp_path / "run.log", on_failure=boom)
    sink._file = _FullDisk()  # type: ignore[assignment]
    sink.emit(Event(stage="train", message="step 1"))
    assert not sink.ok


def test_fan_out_sends_every_event_to_every_sink_in_order(tmp_path: Path) -> None:
    first, second = ListSink(), ListSink()
    order: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def emit(self, event: Event) -> None:
            order.append(self.name)

    with RunLogSink(tmp_path / "run.log") as log:
        fan = FanOutSink(first, Recorder("a"), log, second, Recorder("b"))
        event = Event(stage="pipeline", message="hello")
        fan.emit(event)
    assert first.events == [event] and second.events == [event]
    assert order == ["a", "b"]
    assert _lines(tmp_path / "run.log")[0].endswith("[pipeline] hello")


def test_fan_out_propagates_a_raising_sink() -> None:
    class Broken:
        def emit(self, event: Event) -> None:
            raise RuntimeError("broken sink")

    with pytest.raises(RuntimeError, match="broken sink"):
        FanOutSink(Broken(), ListSink()).emit(Event(message="x"))


def test_log_matches_the_verbose_console_line_for_line(tmp_path: Path) -> None:
    import io

    from dndtune.cli.console import ConsoleSink

    stream = io.StringIO()
    events: list[Event] = [
        StageStarted(stage="dataset", message="building the dataset"),
        StageStarted(stage="dataset", message=""),
        DoctorCheck(message="4bit: no bitsandbytes", level="error", name="4bit", status="fail", detail="x"),
        TrainStep(message="step 2/4 loss 1.5000", step=2, max_steps=4, loss=1.5),
    ]
    with RunLogSink(tmp_path / "run.log") as log:
        fan = FanOutSink(ConsoleSink(stream, verbose=True), log)
        for event in events:
            fan.emit(event)
    logged = [line.split(" ", 1)[1] for line in _lines(tmp_path / "run.log")]
    assert logged == stream.getvalue().splitlines()
