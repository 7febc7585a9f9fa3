"""The progress interface every stage reports through; the CLI and the TUI both consume it.

Stages never print. They call ``events.emit(Event(...))`` and the face that started them
decides how to show it (a log line, a progress bar, a chart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Level = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class Event:
    """One thing that happened in a stage.

    ``kind`` is a short dotted name (``"stage.start"``, ``"train.step"``, ``"dataset.stats"``);
    ``data`` carries the figures a face may plot or tabulate.
    """

    stage: str
    kind: str
    message: str = ""
    level: Level = "info"
    data: dict[str, Any] = field(default_factory=dict)


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class NullSink:
    """Drops everything: for library callers that do not care about progress."""

    def emit(self, event: Event) -> None:
        return None


class ListSink:
    """Keeps every event: for tests and for summaries after a run."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


class CallbackSink:
    """Forwards to a function (the TUI posts a Textual message from it)."""

    def __init__(self, callback: Callable[[Event], None]) -> None:
        self._callback = callback

    def emit(self, event: Event) -> None:
        self._callback(event)
