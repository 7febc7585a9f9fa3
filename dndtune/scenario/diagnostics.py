"""Problems found in a scenario file, each tied to a file and a line."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Diagnostic(BaseModel):
    """One problem, printed the way compilers and linters do: ``path:line: severity: message``."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


class ScenarioError(Exception):
    """Raised when a scenario has errors; carries every diagnostic of the file, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


class DiagnosticCollector:
    """Gathers every problem of one file, so a user sees them all in one run, not one per run."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Diagnostic] = []

    def error(self, line: int, message: str) -> None:
        self.items.append(Diagnostic(path=self.path, line=line, severity=Severity.ERROR, message=message))

    def warning(self, line: int, message: str) -> None:
        self.items.append(Diagnostic(path=self.path, line=line, severity=Severity.WARNING, message=message))


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)
