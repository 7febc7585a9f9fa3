"""The progress interface every stage reports through; the CLI and the TUI both consume it.

Stages never print. They emit typed events (one frozen dataclass per kind, the catalogue in this
package) and the face that started them decides how to show them: :func:`format_line` for a log
line, ``match`` on the class for a progress bar, a chart or a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Protocol

Level = Literal["debug", "info", "warning", "error"]

_COMMON = frozenset({"stage", "message", "level"})


@dataclass(frozen=True, kw_only=True)
class Event:
    """One thing that happened in a stage.

    ``kind`` is the dotted name of the class (``"train.step"``); ``stage`` the stage that emitted
    it; ``message`` the sentence a log shows (empty: nothing to show); the subclass's own fields
    are its figures, also as a plain dict in :attr:`data` (for JSON logs and tests).
    """

    kind: ClassVar[str] = "event"
    stage: str = ""
    message: str = ""
    level: Level = "info"

    @property
    def data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _COMMON}


def format_line(event: Event) -> str:
    """``[stage] message``, with ``warning:`` / ``error:`` before the message: the CLI's and the TUI log's line."""
    prefix = f"{event.level}: " if event.level in ("warning", "error") else ""
    return f"[{event.stage}] {prefix}{event.message}"


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
