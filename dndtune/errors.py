"""The one error type every stage raises for problems a user can fix.

The CLI prints ``str(error)`` as a single line and exits non-zero; nothing a user did
wrong should ever surface as a traceback.
"""

from __future__ import annotations


class DndtuneError(Exception):
    """A user-facing failure: one line that names the file (when there is one) and the fix."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, fix: str | None = None):
        self.message = message
        self.path = path
        self.line = line
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        tail = f" ({self.fix})" if self.fix else ""
        return f"{where}{self.message}{tail}"
