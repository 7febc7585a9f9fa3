"""Play-testers' ratings of DM replies, stored per model version.

A run's ratings live in ``<run>/ratings.jsonl`` (a loose GGUF's beside it, as
``<file>.ratings.jsonl``), one JSON object per rated reply. Each carries the sha256 of the model
file that wrote the reply, so re-exporting a run never mixes old ratings into the new file's
score: :func:`summarize_ratings` counts only the ratings of the file asked about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError

MIN_RATING, MAX_RATING = 1, 5


class Rating(BaseModel):
    at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    model: str
    """Label of the model file (its name)."""
    sha256: str | None
    scenario: str | None = None
    turn: int
    rating: int = Field(ge=MIN_RATING, le=MAX_RATING)
    note: str = ""
    player: str = ""
    """What the player said before the reply."""
    reply: str


@dataclass(frozen=True)
class RatingSummary:
    count: int = 0
    mean: float | None = None
    histogram: dict[int, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def ratings_path_for(model_file: Path, run_root: Path | None) -> Path:
    return run_root / "ratings.jsonl" if run_root is not None else model_file.with_name(
        f"{model_file.name}.ratings.jsonl")


def read_ratings(path: Path) -> list[Rating]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    ratings: list[Rating] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ratings.append(Rating.model_validate_json(line))
        except ValidationError:
            raise DndtuneError("not a rating line", path=str(path), line=number,
                               fix="remove the damaged line; every other rating is kept") from None
    return ratings


def append_rating(path: Path, rating: Rating) -> None:
    """Add one rating; the file is rewritten atomically, so a crash never truncates earlier ones."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    write_text_atomic(path, existing + json.dumps(rating.model_dump(), ensure_ascii=False) + "\n")


def summarize_ratings(path: Path, sha256: str | None) -> RatingSummary:
    ratings = [r for r in read_ratings(path) if sha256 is None or r.sha256 == sha256]
    if not ratings:
        return RatingSummary()
    histogram = {score: sum(1 for r in ratings if r.rating == score) for score in range(MIN_RATING, MAX_RATING + 1)}
    return RatingSummary(count=len(ratings), mean=sum(r.rating for r in ratings) / len(ratings), histogram=histogram,
                         notes=tuple(r.note for r in ratings if r.note))
