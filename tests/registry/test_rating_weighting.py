"""Players' ratings weighed beside the scores: compare's verdict, check's and promote's warning."""

from __future__ import annotations

from dndtune.play.ratings import RatingSummary
from dndtune.registry.compare import RatingThresholds, rating_gap, rating_verdict, rating_warning


def summary(*scores: int) -> RatingSummary:
    if not scores:
        return RatingSummary()
    return RatingSummary(count=len(scores), mean=sum(scores) / len(scores))


def test_a_gap_counts_only_over_enough_ratings() -> None:
    assert rating_gap(summary(2, 2, 2), summary(5, 5, 5)) == -3
    assert rating_gap(summary(2, 2), summary(5, 5, 5)) is None  # two ratings say little
    assert rating_gap(summary(), summary(5, 5, 5)) is None
    assert rating_gap(summary(2), summary(5), RatingThresholds(min_ratings=1)) == -3


def test_warning_when_rated_worse_than_the_promoted_version() -> None:
    warning = rating_warning(summary(2, 3, 2), "v1", summary(5, 4, 5, 4))
    assert warning == "rated worse: 2.33 (3 ratings) vs 4.50 (4 ratings) for v1"
    assert rating_warning(summary(4, 4, 4), "v1", summary(4, 5, 4)) is None  # within half a point
    assert rating_warning(summary(5, 5, 5), "v1", summary(1, 1, 1)) is None  # better is no warning
    assert rating_warning(summary(1), "v1", summary(5, 5, 5)) is None  # one rating is not weighed


def test_compare_verdict_names_the_better_rated_version() -> None:
    assert rating_verdict("a", summary(5, 4, 5, 4), "b", summary(2, 3, 2)).startswith(
        "a is rated 2.17 higher than b")
    assert rating_verdict("a", summary(4, 4, 4), "b", summary(4, 4, 5)).startswith("rated alike")
    assert "too few ratings to weigh (1 for a, 0 for b; 3 each needed)" in rating_verdict(
        "a", summary(5), "b", summary())
