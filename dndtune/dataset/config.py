"""What the dataset stage needs to know: a flat view of a recipe's ``data`` section plus paths."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from dndtune.dataset.augment import AugmentOptions

if TYPE_CHECKING:
    from dndtune.recipe.schema import Recipe


class DatasetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios_dir: Path = Field(description="Folder of Markdown scenarios (sub-folders are categories).")
    output_dir: Path = Field(description="Where train.jsonl, eval.jsonl and stats.json are written.")
    categories: dict[str, float] = Field(default_factory=dict,
                                         description="Weight per category; unnamed categories weigh 1.")
    max_per_category: int | None = Field(default=None, ge=1,
                                         description="Cap on training examples per category.")
    augment_enabled: bool = True
    augment_copies: int = Field(default=2, ge=0)
    augment_seed: int = 0
    augment_names: bool = True
    augment_settings: bool = True
    augment_dice: bool = True
    augment_dialogue: bool = True
    eval_fraction: float = Field(default=0.15, ge=0.0, lt=1.0)
    split_seed: int = 0
    max_seq_length: int = Field(default=1024, ge=1,
                                description="Conversations longer than this (in tokens) are split into "
                                "windows at turn boundaries; only measured when a tokenizer is given.")
    cache_dir: Path | None = Field(default=None, description="Parsed-scenario cache (None: no cache).")

    @property
    def augment_options(self) -> AugmentOptions:
        return AugmentOptions(names=self.augment_names, settings=self.augment_settings,
                              dice=self.augment_dice, dialogue=self.augment_dialogue)

    @property
    def copies(self) -> int:
        return self.augment_copies if self.augment_enabled else 0

    @classmethod
    def from_recipe(cls, recipe: Recipe, *, output_dir: Path | None = None,
                    cache_dir: Path | None = None) -> DatasetConfig:
        """The recipe's ``data`` section; output defaults to ``<output.dir>/<run_name>/dataset``."""
        data = recipe.data
        augment = data.augment
        return cls(
            scenarios_dir=data.scenarios_dir,
            output_dir=output_dir or recipe.output.dir / recipe.output.run_name / "dataset",
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
