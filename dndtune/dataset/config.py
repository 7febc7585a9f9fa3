"""What the dataset stage needs to know: a flat view of a recipe's ``data`` section plus paths."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from dndtune.dataset.augment import AugmentOptions


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
    cache_dir: Path | None = Field(default=None, description="Parsed-scenario and token-count cache (None: no cache).")

    @property
    def augment_options(self) -> AugmentOptions:
        return AugmentOptions(names=self.augment_names, settings=self.augment_settings,
                              dice=self.augment_dice, dialogue=self.augment_dialogue)

    @property
    def copies(self) -> int:
        return self.augment_copies if self.augment_enabled else 0
