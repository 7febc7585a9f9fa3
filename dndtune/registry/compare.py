"""Players' ratings weighed beside the scores: ``models compare``, ``models check`` and promote read them here.

A mean rating means little over one or two replies, so a difference counts only when both
versions have at least ``min_ratings`` ratings of their own file, and it warns only when the
candidate's mean is at least ``drop`` points (on the 1-5 scale) below the promoted one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dndtune.evaluate.report import HEADLINE, format_value
from dndtune.play.ratings import RatingSummary
from dndtune.registry.versions import ModelVersion


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
                f"{t.min_ratings} each needed): rate replies in the app's Play screen (7) or with `dndtune play`")
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


def comparison_rows(a: ModelVersion, b: ModelVersion, labels: dict[str, str] | None = None
                    ) -> list[tuple[str, str, str]]:
    """(label, A, B) for every figure ``models compare`` and the Models screen show side by side.

    ``labels`` renames headline scores (the app's pane is narrow).
    """
    names = labels or {}

    def both(kind: str, read: object) -> tuple[str, str]:
        assert callable(read)
        return format_value(kind, read(a)), format_value(kind, read(b))

    rows = [("quant", a.quant or "-", b.quant or "-"),
            ("base model", Path(a.base_model).name if a.base_model else "-",
             Path(b.base_model).name if b.base_model else "-"),
            ("data hash", (a.data_hash or "-")[:12], (b.data_hash or "-")[:12]),
            ("size", *both("size_bytes", lambda v: v.size_bytes))]
    for key, (label, _) in HEADLINE.items():
        kind = "perplexity" if key == "perplexity" else "score"
        rows.append((names.get(key, label), *both(kind, lambda v, k=key: v.scores.get(k))))
    rows.append(("player rating", _mean_rating(a), _mean_rating(b)))
    rows.append(("tokens/s", *both("tokens_per_second", lambda v: v.perf.tokens_per_second if v.perf else None)))
    rows.append(("memory", *both("rss_bytes", lambda v: v.perf.peak_rss_bytes if v.perf else None)))
    return rows


def _mean_rating(v: ModelVersion) -> str:
    return f"{v.ratings.mean:.2f} ({v.ratings.count})" if v.ratings.mean is not None else "-"
