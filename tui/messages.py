"""Messages that carry pipeline progress from worker threads to the UI thread."""

from __future__ import annotations

from textual.message import Message

from dndtune.events import Event


class PipelineEvent(Message):
    """One :class:`~dndtune.events.Event` from a running stage, posted from the worker thread."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunUpdated(Message):
    """The app's run state changed; screens that show it redraw from ``app.run_state``.

    Sent by the app to the screen on show; it must not bubble back up to the app.
    """

    bubble = False

    def __init__(self, event: Event | None) -> None:
        super().__init__()
        self.event = event
