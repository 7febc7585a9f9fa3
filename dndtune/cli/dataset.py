"""``dndtune dataset build``: scenarios -> train/eval chat JSONL + stats, with a stats table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dndtune.cli.console import ConsoleSink
from dndtune.dataset.build import build_dataset
from dndtune.dataset.config import DatasetConfig
from dndtune.dataset.stats import histogram_lines
from dndtune.errors import DndtuneError
from dndtune.paths import cache_dir
from dndtune.pipeline.configs import dataset_config
from dndtune.recipe.loader import load_recipe

if TYPE_CHECKING:
    from rich.console import Console

    from dndtune.dataset.build import DatasetResult

DEFAULT_SCENARIOS = Path("training-data")
DEFAULT_OUTPUT = Path("training-output") / "dataset"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("dataset", help="build the chat training dataset from scenarios")
    actions = p.add_subparsers(dest="dataset_command", metavar="ACTION")
    b = actions.add_parser("build", help="validate, augment, balance and split scenarios into train/eval JSONL")
    b.add_argument("--scenarios", type=Path, metavar="DIR",
                   help=f"scenarios folder (default: the recipe's data.scenarios_dir, else {DEFAULT_SCENARIOS})")
    b.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: <output.dir>/datasets/<run_name> with --recipe, "
                        f"else {DEFAULT_OUTPUT})")
    b.add_argument("--recipe", dest="dataset_recipe", metavar="R",
                   help="take the data settings from a recipe (path or name in recipes/)")
    b.add_argument("--tokenizer", metavar="PATH",
                   help="local tokenizer folder: measure token lengths, split over-long conversations")
    b.add_argument("--seed", type=int, metavar="N", help="augmentation seed (overrides the recipe)")
    b.add_argument("--no-augment", action="store_true", help="originals only")
    b.add_argument("--no-cache", action="store_true", help="re-parse every scenario instead of using the cache")
    b.add_argument("-v", "--verbose", action="store_true", help="also show debug events (rejected copies)")
    b.set_defaults(func=run_build)

    def show_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 0

    p.set_defaults(func=show_help)


def resolve_config(args: argparse.Namespace) -> DatasetConfig:
    """The stage config from the recipe (when given) with the command-line flags on top."""
    cache = None if args.no_cache else cache_dir()
    if args.dataset_recipe:
        recipe = load_recipe(args.dataset_recipe, getattr(args, "overrides", []) or [])
        config = dataset_config(recipe, output_dir=args.out, cache_dir=cache)
    else:
        config = DatasetConfig(scenarios_dir=DEFAULT_SCENARIOS, output_dir=args.out or DEFAULT_OUTPUT,
                               cache_dir=cache)
    update: dict[str, Any] = {}
    if args.scenarios is not None:
        update["scenarios_dir"] = args.scenarios
    if args.seed is not None:
        update["augment_seed"] = args.seed
    if args.no_augment:
        update["augment_enabled"] = False
    return config.model_copy(update=update)


def load_tokenizer(path: str) -> Any:
    if not Path(path).exists():
        raise DndtuneError("tokenizer folder not found", path=path,
                           fix="pass a local folder holding tokenizer.json / tokenizer_config.json")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise DndtuneError(f"cannot load a tokenizer: {exc}", path=path) from exc


def run_build(args: argparse.Namespace) -> int:
    from rich.console import Console

    config = resolve_config(args)
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    result = build_dataset(config, ConsoleSink(verbose=args.verbose), tokenizer)
    print_stats(result, Console())
    return 0


def print_stats(result: DatasetResult, console: Console) -> None:
    from rich.table import Table

    stats = result.stats
    table = Table(title="Dataset", title_justify="left")
    table.add_column("category")
    table.add_column("scenarios", justify="right")
    table.add_column("train examples", justify="right")
    for category, count in stats.scenarios_per_category.items():
        table.add_row(category, str(count), str(stats.train_examples_per_category.get(category, 0)))
    table.add_section()
    table.add_row("total", str(stats.scenarios), str(stats.train_examples))
    console.print(table)
    console.print(
        f"scenarios: {stats.train_scenarios} train, {stats.eval_scenarios} held out\n"
        f"examples: {stats.train_examples} train ({stats.augmented_examples} augmented), "
        f"{stats.eval_examples} eval\n"
        f"augmentation: {stats.augment_invalid} copies rejected by the validator, "
        f"{stats.augment_duplicates} duplicates dropped\n"
        f"turns: {stats.turns}, tool calls: {stats.tool_calls}, tool results: {stats.tool_results}",
        highlight=False,
    )
    if stats.tokens is not None:
        tokens = stats.tokens
        console.print(
            f"tokens per example: min {tokens.min}, median {tokens.p50}, p95 {tokens.p95}, max {tokens.max} "
            f"(max_seq_length {tokens.max_seq_length}: {tokens.over_length} over, "
            f"{stats.windowed_conversations} conversation(s) split into windows)", highlight=False)
        for line in histogram_lines(tokens.histogram):
            console.print(f"  {line}", highlight=False, markup=False)
    console.print(f"wrote {result.jsonl_paths['train']}, {result.jsonl_paths['eval']}, {result.stats_path}",
                  highlight=False, markup=False)
