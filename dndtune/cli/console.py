"""How the CLI shows pipeline events: one line each on stderr, figures left to the commands."""

from __future__ import annotations

import sys
from typing import TextIO

from dndtune.events import Event, format_line


class ConsoleSink:
    """Prints events as ``[stage] message``; debug events only when verbose."""

    def __init__(self, stream: TextIO | None = None, *, verbose: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._verbose = verbose

    def emit(self, event: Event) -> None:
        if event.level == "debug" and not self._verbose:
            return
        if not event.message:
            return
        print(format_line(event), file=self._stream, flush=True)
