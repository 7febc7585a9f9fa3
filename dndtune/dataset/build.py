"""The dataset stage: scenarios -> split -> augment -> chat examples -> balance -> Dataset + JSONL."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dndtune.atomic import write_text_atomic
from dndtune.dataset.augment import AugmentReport, augment_scenario
from dndtune.dataset.balance import balance, stable_hash
from dndtune.dataset.chat import count_tool_calls, scenario_to_messages, tools
from dndtune.dataset.config import DatasetConfig
from dndtune.dataset.records import Example, jsonl_line
from dndtune.dataset.split import scenario_key, split_scenarios
from dndtune.dataset.stats import DatasetStats, token_stats
from dndtune.dataset.token_cache import TokenCountCache, tokenizer_identity
from dndtune.dataset.windows import TokenCounter, split_windows, token_counter
from dndtune.errors import DndtuneError
from dndtune.events import (
    AugmentRejected,
    DatasetAugmented,
    DatasetBuilt,
    DatasetSplit,
    EventSink,
    StageDone,
    StageStarted,
)
from dndtune.scenario.loader import load_scenarios
from dndtune.scenario.models import Scenario

STAGE = "dataset"


@dataclass(frozen=True)
class DatasetResult:
    """What the training stage consumes; keep these names stable."""

    train: list[dict[str, Any]]
    """Rows with the :data:`~dndtune.dataset.records.COLUMNS`, every message with the same keys."""
    eval: list[dict[str, Any]]
    stats: DatasetStats
    jsonl_paths: dict[str, Path]
    """``{"train": .../train.jsonl, "eval": .../eval.jsonl}``."""
    stats_path: Path
    output_dir: Path


def run(config: DatasetConfig, events: EventSink, tokenizer: Any = None) -> DatasetResult:
    """The stage's ``run(config, events) -> result`` entry point (same as :func:`build_dataset`)."""
    return build_dataset(config, events, tokenizer)


def build_dataset(config: DatasetConfig, events: EventSink, tokenizer: Any = None) -> DatasetResult:
    """Build train/eval sets from ``config.scenarios_dir`` and write them to ``config.output_dir``.

    ``tokenizer`` (a transformers tokenizer) turns on length measurement: conversations over
    ``max_seq_length`` are split into windows and the stats get a token-length histogram.
    Raises :class:`DndtuneError` when any scenario file has errors (after emitting each one).
    """
    events.emit(StageStarted(stage=STAGE, message=f"building the dataset from {config.scenarios_dir}"))
    scenarios = _load(config, events)
    train_scenarios, eval_scenarios = split_scenarios(scenarios, config.eval_fraction, config.split_seed)
    events.emit(DatasetSplit(message=f"{len(train_scenarios)} training and {len(eval_scenarios)} held-out scenario(s)",
                              train=[s.path for s in train_scenarios], eval=[s.path for s in eval_scenarios]))

    sources, report = _augment(train_scenarios, config, events)
    counts = (TokenCountCache(config.cache_dir / "tokens" if config.cache_dir is not None else None,
                              tokenizer_identity(tokenizer, tools())) if tokenizer is not None else None)
    counter = counts.wrap(token_counter(tokenizer, tools())) if counts is not None else None
    train_all, train_windowed = _examples(sources, counter, config.max_seq_length)
    eval_examples, eval_windowed = _examples([(s, 0) for s in eval_scenarios], counter, config.max_seq_length)

    train_examples = balance(
        train_all, category=lambda e: e.category,
        priority=lambda e: (e.copy, f"{stable_hash(e.key)}:{e.window:05d}"),
        weights=config.categories, max_per_category=config.max_per_category,
    )
    # Mixed order for trainers that read files front to back; seeded, so still reproducible.
    random.Random(f"order:{config.split_seed}:{config.augment_seed}").shuffle(train_examples)

    stats = _stats(scenarios, train_scenarios, eval_scenarios, train_examples, eval_examples, report,
                   train_windowed + eval_windowed, config)
    train_ds, eval_ds = _rows(train_examples), _rows(eval_examples)
    paths = _write(config.output_dir, train_examples, eval_examples, stats)
    measured = ""
    if counts is not None:
        counts.save()
        measured = f"; {counts.misses} conversation(s) measured, {counts.hits} token count(s) from the cache"
    events.emit(DatasetBuilt(message=f"{stats.train_examples} training and {stats.eval_examples} eval example(s), "
                              f"{stats.tool_calls} tool call(s); written to {config.output_dir}{measured}",
                              stats=stats.model_dump(mode="json"),
                              measured=counts.misses if counts is not None else None))
    events.emit(StageDone(stage=STAGE, message="dataset ready"))
    return DatasetResult(train=train_ds, eval=eval_ds, stats=stats,
                         jsonl_paths={"train": paths[0], "eval": paths[1]}, stats_path=paths[2],
                         output_dir=config.output_dir)


def _load(config: DatasetConfig, events: EventSink) -> list[Scenario]:
    if not config.scenarios_dir.is_dir():
        raise DndtuneError("scenarios folder not found", path=str(config.scenarios_dir),
                           fix="pass --scenarios DIR or set data.scenarios_dir in the recipe")
    loaded = load_scenarios(config.scenarios_dir, events, config.cache_dir)
    if loaded.failed_files:
        n = len(loaded.failed_files)
        raise DndtuneError(f"{n} scenario file{'s' if n != 1 else ''} {'have' if n != 1 else 'has'} errors",
                           fix=f"run `dndtune validate {config.scenarios_dir}`")
    if not loaded.scenarios:
        raise DndtuneError("no scenario files found", path=str(config.scenarios_dir),
                           fix="add Markdown scenarios under <folder>/<category>/*.md")
    return loaded.scenarios


def _augment(scenarios: list[Scenario], config: DatasetConfig, events: EventSink
             ) -> tuple[list[tuple[Scenario, int]], AugmentReport]:
    sources: list[tuple[Scenario, int]] = []
    total = AugmentReport()
    for scenario in scenarios:
        sources.append((scenario, 0))
        copies, report = augment_scenario(scenario, copies=config.copies, seed=config.augment_seed,
                                          options=config.augment_options, key=scenario_key(scenario))
        sources.extend((copy, index) for index, copy in enumerate(copies, start=1))
        total.add(report)
    for problem in total.problems:
        events.emit(AugmentRejected(message=f"augmented copy rejected: {problem}"))
    if config.copies:
        made = f"{total.produced} augmented cop{'y' if total.produced == 1 else 'ies'}"
        events.emit(DatasetAugmented(
            message=f"{made}; {total.invalid} rejected by the validator, {total.duplicates} duplicate(s) dropped",
            produced=total.produced, invalid=total.invalid, duplicates=total.duplicates))
    return sources, total


def _examples(sources: list[tuple[Scenario, int]], counter: TokenCounter | None, max_tokens: int
              ) -> tuple[list[Example], int]:
    """Examples of every source, and how many sources had to be split into windows."""
    out: list[Example] = []
    windowed = 0
    for scenario, copy in sources:
        messages = scenario_to_messages(scenario)
        windows = split_windows(messages, counter, max_tokens) if counter is not None else [messages]
        windowed += len(windows) > 1
        for index, window in enumerate(windows):
            out.append(Example(messages=window, scenario=scenario.path, key=scenario_key(scenario),
                               category=scenario.category, copy=copy, window=index,
                               tokens=counter(window) if counter is not None else None))
    return out, windowed


def _stats(scenarios: list[Scenario], train_scenarios: list[Scenario], eval_scenarios: list[Scenario],
           train: list[Example], evaluation: list[Example], report: AugmentReport, windowed: int,
           config: DatasetConfig) -> DatasetStats:
    examples = train + evaluation
    lengths = [e.tokens for e in examples if e.tokens is not None]
    return DatasetStats(
        scenarios=len(scenarios),
        scenarios_per_category=dict(sorted(Counter(s.category for s in scenarios).items())),
        train_scenarios=len(train_scenarios),
        eval_scenarios=len(eval_scenarios),
        train_examples=len(train),
        eval_examples=len(evaluation),
        train_examples_per_category=dict(sorted(Counter(e.category for e in train).items())),
        augmented_examples=sum(1 for e in train if e.augmented),
        augment_invalid=report.invalid,
        augment_duplicates=report.duplicates,
        windowed_conversations=windowed,
        turns=sum(1 for e in examples for m in e.messages if m["role"] in ("user", "assistant")),
        tool_results=sum(1 for e in examples for m in e.messages if m["role"] == "tool"),
        tool_calls=sum(count_tool_calls(e.messages) for e in examples),
        tokens=token_stats(lengths, config.max_seq_length) if lengths else None,
    )


def _rows(examples: list[Example]) -> list[dict[str, Any]]:
    schema = tools()
    return [e.row(schema) for e in examples]


def _write(output_dir: Path, train: list[Example], evaluation: list[Example], stats: DatasetStats
           ) -> tuple[Path, Path, Path]:
    schema = tools()
    train_path, eval_path, stats_path = (output_dir / name for name in ("train.jsonl", "eval.jsonl", "stats.json"))
    for path, examples in ((train_path, train), (eval_path, evaluation)):
        write_text_atomic(path, "".join(jsonl_line(e.messages, schema) + "\n" for e in examples))
    write_text_atomic(stats_path, json.dumps(stats.model_dump(mode="json"), indent=2) + "\n")
    return train_path, eval_path, stats_path
