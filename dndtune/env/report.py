"""The doctor's report: one pass / warn / fail line per check, and the verdict over them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from dndtune.env.environment import EnvReport

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorReport:
    """The environment and the checklist for one recipe, as a run records it."""

    env: EnvReport
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Status:
        return worst(list(self.checks))

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "environment": self.env.to_dict(),
                "checks": [c.to_dict() for c in self.checks]}


def worst(checks: list[Check]) -> Status:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
