"""Players' ratings weighed beside the scores: ``models compare``, ``models check`` and promote read them here.

A mean rating means little over one or two replies, so a difference counts only when both
versions have at least ``min_ratings`` ratings of their own file, and it warns only when the
candidate's mean is at least ``drop`` points (on the 1-5 scale) below the promoted one's.
"""

from __future__ import annotations

from dataclasses import dataclass

from dndtune.play.ratings import RatingSummary


@dataclass(frozen=True)
class RatingThresholds:
    drop: float = 0.5
    """Points of mean rating (1-5) a candidate may lose before ``models check`` warns."""
    min_ratings: int = 3
    """Ratings each version needs before its mean is weighed at all."""


def rating_text(summary: RatingSummary) -> str:
    """``3.67 (6 ratings)``, or ``unrated``."""
    if summary.mean is None:
        return "unrated"
    return f"{summary.mean:.2f} ({summary.count} rating{'s' if summary.count != 1 else ''})"


def rating_gap(candidate: RatingSummary, reference: RatingSummary,
               thresholds: RatingThresholds | None = None) -> float | None:
    """Candidate's mean minus the reference's; None when either has too few ratings to weigh."""
    t = thresholds or RatingThresholds()
    if candidate.mean is None or reference.mean is None:
        return None
    if candidate.count < t.min_ratings or reference.count < t.min_ratings:
        return None
    return candidate.mean - reference.mean


def rating_verdict(a_name: str, a: RatingSummary, b_name: str, b: RatingSummary,
                   thresholds: RatingThresholds | None = None) -> str:
    """One line for ``models compare``: which version players liked more, or why that is not known yet."""
    t = thresholds or RatingThresholds()
    gap = rating_gap(b, a, t)
    if gap is None:
        return (f"too few ratings to weigh ({a.count} for {a_name}, {b.count} for {b_name}; "
                f"{t.min_ratings} each needed): rate replies with `dndtune play`")
    if abs(gap) < t.drop:
        return f"rated alike: {b_name} {rating_text(b)} vs {a_name} {rating_text(a)}"
    better, worse = (b_name, a_name) if gap > 0 else (a_name, b_name)
    return (f"{better} is rated {abs(gap):.2f} higher than {worse} "
            f"({b_name} {rating_text(b)}, {a_name} {rating_text(a)})")


def rating_warning(candidate: RatingSummary, promoted_name: str, promoted: RatingSummary,
                   thresholds: RatingThresholds | None = None) -> str | None:
    """The ``models check`` / promote warning when players rate the candidate worse than the promoted version."""
    t = thresholds or RatingThresholds()
    gap = rating_gap(candidate, promoted, t)
    if gap is None or gap > -t.drop:
        return None
    return f"rated worse: {rating_text(candidate)} vs {rating_text(promoted)} for {promoted_name}"
