"""Seeded augmentation of scenarios: character, setting, dice and player-phrasing variations.

One module per kind of variation (:mod:`.characters`, :mod:`.setting`, :mod:`.dice`,
:mod:`.dialogue`), the text rewriting they share in :mod:`.text`, and :mod:`.copies`, which runs
them in a fixed order per copy and keeps only the copies the validator accepts. The entry points
the dataset stage and the recipe use are re-exported here.
"""

from dndtune.dataset.augment.copies import AugmentOptions, AugmentReport, augment_once, augment_scenario, copy_rng

__all__ = ["AugmentOptions", "AugmentReport", "augment_once", "augment_scenario", "copy_rng"]
