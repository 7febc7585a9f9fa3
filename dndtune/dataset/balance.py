"""Category weights and caps over training examples, deterministic (no sampling from a generator).

A weight scales how many examples a category contributes: 0.5 keeps half, 2 repeats each once
more, 0 drops the category. Categories not named weigh 1. ``max_per_category`` then caps the
count. What is kept is chosen by priority: originals before augmented copies, and within those
by a hash of the scenario, so a cap spreads over as many scenarios as possible.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def target_count(available: int, weight: float, cap: int | None) -> int:
    wanted = round(available * weight)
    return min(wanted, cap) if cap is not None else wanted


def balance(items: list[T], *, category: Callable[[T], str], priority: Callable[[T], tuple[int, str]],
            weights: Mapping[str, float], max_per_category: int | None) -> list[T]:
    """The balanced list, grouped by category in sorted category order.

    ``priority`` orders the items of one category (lower first); over-sampling cycles through
    that order, so every item is repeated before any is repeated twice.
    """
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[category(item)].append(item)
    out: list[T] = []
    for name in sorted(groups):
        ranked = sorted(groups[name], key=priority)
        count = target_count(len(ranked), weights.get(name, 1.0), max_per_category)
        out.extend(ranked[i % len(ranked)] for i in range(count))
    return out


def stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
