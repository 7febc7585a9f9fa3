"""Held-out split by scenario and category balancing: deterministic, no leakage, caps honoured."""

from __future__ import annotations

from dataclasses import dataclass

from dndtune.dataset.balance import balance, target_count
from dndtune.dataset.split import eval_count, scenario_key, split_scenarios
from dndtune.scenario.models import Scenario, SystemContext, Turn, TurnRole


def _scenario(category: str, index: int, root: str = "training-data") -> Scenario:
    return Scenario(path=f"{root}/{category}/s{index}.md", title=f"{category} {index}", category=category,
                    system=SystemContext(role="Dungeon Master"),
                    turns=(Turn(role=TurnRole.DM, text="Hello.", line=5),), content_hash=f"{category}{index}")


def _corpus(sizes: dict[str, int], root: str = "training-data") -> list[Scenario]:
    return [_scenario(c, i, root) for c, n in sizes.items() for i in range(n)]


def test_eval_count_rules() -> None:
    assert eval_count(0, 0.15) == 0
    assert eval_count(1, 0.5) == 0
    assert eval_count(2, 0.15) == 1  # at least one once there are two
    assert eval_count(24, 0.15) == 4
    assert eval_count(3, 0.9) == 2  # never everything
    assert eval_count(10, 0.0) == 0


def test_split_is_a_partition_and_deterministic() -> None:
    corpus = _corpus({"combat": 6, "social": 5, "puzzle": 4, "rest": 3})
    train, held = split_scenarios(corpus, 0.2, seed=0)
    assert len(held) == 4
    assert {s.path for s in train}.isdisjoint({s.path for s in held})
    assert len(train) + len(held) == len(corpus)
    assert split_scenarios(list(reversed(corpus)), 0.2, seed=0)[1] == \
        sorted(held, key=lambda s: corpus.index(s), reverse=True)
    assert {s.category for s in held} == {"combat", "social", "puzzle", "rest"}  # one from each
    assert split_scenarios(corpus, 0.2, seed=1)[1] != held


def test_split_ignores_where_the_corpus_lives() -> None:
    here = split_scenarios(_corpus({"combat": 5, "social": 5}), 0.3, seed=4)[1]
    there = split_scenarios(_corpus({"combat": 5, "social": 5}, root="/elsewhere/data"), 0.3, seed=4)[1]
    assert [scenario_key(s) for s in here] == [scenario_key(s) for s in there]


def test_split_keeps_a_training_scenario_per_category_when_it_can() -> None:
    corpus = _corpus({"combat": 5, "shop": 1})
    train, held = split_scenarios(corpus, 0.3, seed=0)
    assert len(held) == 2 and all(s.category == "combat" for s in held)
    assert any(s.category == "shop" for s in train)


def test_adding_a_scenario_moves_few_others() -> None:
    corpus = _corpus({"combat": 8, "social": 8})
    before = {s.path for s in split_scenarios(corpus, 0.25, seed=0)[1]}
    after = {s.path for s in split_scenarios([*corpus, _scenario("combat", 99)], 0.25, seed=0)[1]}
    assert len(before ^ after) <= 2


@dataclass(frozen=True)
class Item:
    category: str
    copy: int
    name: str


def _balanced(items: list[Item], weights: dict[str, float], cap: int | None) -> list[Item]:
    return balance(items, category=lambda i: i.category, priority=lambda i: (i.copy, i.name),
                   weights=weights, max_per_category=cap)


def _items() -> list[Item]:
    return [Item(c, copy, f"{c}{n}") for c, count in (("combat", 4), ("social", 2))
            for n in range(count) for copy in range(3)]


def test_cap_prefers_originals_then_spreads_over_scenarios() -> None:
    out = _balanced(_items(), {}, cap=5)
    combat = [i for i in out if i.category == "combat"]
    assert len(combat) == 5
    assert [i.copy for i in combat] == [0, 0, 0, 0, 1]
    assert len([i for i in out if i.category == "social"]) == 5


def test_weights_scale_and_drop_categories() -> None:
    out = _balanced(_items(), {"combat": 0.5, "social": 0.0}, cap=None)
    assert [i.category for i in out] == ["combat"] * 6
    doubled = _balanced(_items(), {"social": 2.0}, cap=None)
    social = [i for i in doubled if i.category == "social"]
    assert len(social) == 12 and len(set(social)) == 6  # every item once more before any thrice
    assert _balanced(_items(), {}, None) == _balanced(list(reversed(_items())), {}, None)


def test_target_count() -> None:
    assert target_count(10, 1.0, None) == 10
    assert target_count(10, 1.5, 12) == 12
    assert target_count(3, 0.0, 5) == 0
