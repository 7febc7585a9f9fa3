"""Typed scenario data: what a parsed Markdown scenario holds.

Every model keeps the 1-based source ``line`` it came from so later checks (validator,
dataset builder, quality checks) can report ``path:line`` without re-reading the file.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InventoryItem(_Model):
    name: str
    quantity: int = 1


class Character(_Model):
    name: str
    race: str | None = None
    char_class: str | None = None
    level: int | None = None
    hp_current: int | None = None
    hp_max: int | None = None
    xp: int | None = None
    inventory: tuple[InventoryItem, ...] = ()
    line: int = 0

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class SystemContext(_Model):
    role: str | None = None
    world: str | None = None
    location: str | None = None
    party: tuple[Character, ...] = ()
    notes: tuple[str, ...] = ()
    """Free lines of the SYSTEM section that are not one of the known fields (kept for the prompt)."""
    line: int = 0


class RollRequest(_Model):
    """``[roll: skill]`` or ``[roll: skill (Character)]`` inside a DM turn."""

    skill: str
    character: str | None = None
    line: int = 0
    raw: str = ""


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILURE = "failure"


class RollResult(_Model):
    """One line of a TOOLCALL section: ``roll: skill (Char) = NdM+K = f1+f2+K = total [vs DC n: success]``."""

    skill: str
    character: str | None = None
    count: int = Field(ge=1)
    sides: int = Field(ge=2)
    modifier: int = 0
    faces: tuple[int, ...] = ()
    """Die faces as written; empty when the line gave only the total."""
    total: int
    target_kind: Literal["DC", "AC"] | None = None
    target_value: int | None = None
    outcome: Outcome | None = None
    line: int = 0

    @property
    def expression(self) -> str:
        mod = f"{self.modifier:+d}" if self.modifier else ""
        return f"{self.count}d{self.sides}{mod}"


class TurnRole(str, Enum):
    USER = "user"
    DM = "dm"
    TOOLCALL = "toolcall"


class Turn(_Model):
    role: TurnRole
    text: str
    """The body as written (for DM turns, still containing the ``[roll: ...]`` markers)."""
    line: int
    """Line of the ``## Header`` that opened the turn."""
    body_line: int = 0
    """Line of the first body line (what per-line messages count from)."""
    rolls: tuple[RollRequest, ...] = ()
    results: tuple[RollResult, ...] = ()


class Scenario(_Model):
    path: str
    title: str
    category: str
    tags: tuple[str, ...] = ()
    system: SystemContext
    turns: tuple[Turn, ...]
    content_hash: str

    @property
    def dm_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role is TurnRole.DM]

    @property
    def tool_calls(self) -> list[RollRequest]:
        return [r for t in self.turns for r in t.rolls]
