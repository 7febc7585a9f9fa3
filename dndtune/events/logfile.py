"""``<run>/run.log``: the console's lines, each with a timestamp, appended to a file as they happen.

:class:`RunLogSink` writes :func:`~dndtune.events.base.format_line` for every event that has a
message (debug events included: the file is the full record, the console hides them unless
``--verbose``), one line each, prefixed with the local time in ISO 8601::

    2025-06-01T14:03:07.512+02:00 [train] step 12/40 loss 1.8312 ...
    2025-06-01T14:03:09.004+02:00 [export] warning: Q8_0 is 2.3 GB, over target.size_limit

Every line is flushed as it is written, so a crash or a Ctrl-C loses nothing already reported.
The sink is thread-safe (the TUI emits from its worker thread) and is a context manager.

A log is never worth a run: when the file cannot be opened or written (a full disk, a folder
made read-only) the sink stops writing, keeps the reason in :attr:`RunLogSink.failure` and calls
``on_failure`` with it once; :meth:`RunLogSink.emit` itself never raises. :class:`FanOutSink`
sends each event to several sinks (the console and the log).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TextIO

from dndtune.events.base import Event, EventSink, format_line

RUN_LOG_NAME = "run.log"


def timestamp(moment: datetime | None = None) -> str:
    """Local time with its UTC offset, to the millisecond: ``2025-06-01T14:03:07.512+02:00``.

    ``moment`` defaults to now; an aware one keeps its offset, a naive one is read as local time.
    """
    moment = moment or datetime.now()
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.isoformat(timespec="milliseconds")


def log_line(event: Event, moment: datetime | None = None) -> str:
    """One ``run.log`` line (no newline); a multi-line message continues on lines indented by two spaces."""
    text = format_line(event).rstrip("\n").replace("\r\n", "\n").replace("\n", "\n  ")
    return f"{timestamp(moment)} {text}"


class RunLogSink:
    """Appends :func:`log_line` for each event with a message to ``path`` (parent folders are created).

    ``include_debug=False`` keeps only what the console shows without ``--verbose``. A write
    failure is swallowed: the first one is kept in :attr:`failure` (``"could not write <path>:
    <reason>; the run goes on without its log"``), handed to ``on_failure`` once, and the sink
    writes nothing after it. Closing is idempotent; events after :meth:`close` are dropped.
    """

    def __init__(self, path: Path, *, include_debug: bool = True,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self._include_debug = include_debug
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        self._closed = False
        self.failure: str | None = None
        """Why the log stopped being written (``None`` while every line got through)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            self._report(self._fail(exc))

    @property
    def ok(self) -> bool:
        """``True`` while no open or write has failed."""
        return self.failure is None

    def emit(self, event: Event) -> None:
        if not event.message or (event.level == "debug" and not self._include_debug):
            return
        line = log_line(event) + "\n"
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line)
                self._file.flush()
            except (OSError, ValueError) as exc:  # ValueError: the file was closed under us
                self._drop_file()
                report = self._fail(exc)
            else:
                return
        self._report(report)

    def close(self) -> None:
        report = None
        with self._lock:
            self._closed = True
            file, self._file = self._file, None
            if file is not None:
                try:
                    file.close()
                except OSError as exc:  # the last buffered bytes could not be written
                    report = self._fail(exc)
        self._report(report)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> RunLogSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _drop_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            # The write already failed; its reason is the one worth keeping.
            with contextlib.suppress(OSError):
                file.close()

    def _fail(self, exc: BaseException) -> str | None:
        """Keeps the first failure; returns it when it is new (to report once, outside the lock)."""
        if self.failure is not None:
            return None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.failure = f"could not write {self.path}: {reason}; the run goes on without its log"
        return self.failure

    def _report(self, failure: str | None) -> None:
        # Called without the lock held, so the callback may emit through a fan-out that holds this sink.
        if failure is not None and self._on_failure is not None:
            # A failing callback must not stop the run either.
            with contextlib.suppress(Exception):
                self._on_failure(failure)


class FanOutSink:
    """Sends each event to every sink in order (the console first, then ``run.log``, ...).

    A sink that raises stops the event there, as it would without the fan-out; :class:`RunLogSink`
    never raises, so put it after the sinks whose errors matter or anywhere.
    """

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks: tuple[EventSink, ...] = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)
