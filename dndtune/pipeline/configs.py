"""Recipe -> each stage's own typed input. Configuration flows one way: the stages never see a recipe."""

from __future__ import annotations

from pathlib import Path

from dndtune.dataset.config import DatasetConfig
from dndtune.recipe.schema import Recipe


def dataset_config(recipe: Recipe, *, output_dir: Path | None = None, cache_dir: Path | None = None) -> DatasetConfig:
    """The recipe's ``data`` section. Output defaults to ``<output.dir>/datasets/<run_name>/``: a dataset
    built on its own (``dndtune dataset build --recipe``) never writes into a run version, which is frozen
    once completed; the pipeline passes the version's own ``dataset/``."""
    data = recipe.data
    augment = data.augment
    return DatasetConfig(
        scenarios_dir=data.scenarios_dir,
        output_dir=output_dir or recipe.output.dir / "datasets" / recipe.output.run_name,
        categories=dict(data.categories),
        max_per_category=data.max_per_category,
        augment_enabled=augment.enabled,
        augment_copies=augment.copies,
        augment_seed=augment.seed,
        augment_names=augment.names,
        augment_settings=augment.settings,
        augment_dice=augment.dice,
        augment_dialogue=augment.dialogue,
        eval_fraction=data.eval_fraction,
        split_seed=data.split_seed,
        max_seq_length=data.max_seq_length,
        cache_dir=cache_dir,
    )
