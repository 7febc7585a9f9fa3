"""The models a side-by-side comparison runs: base model, fp16, and each quant of the ladder.

The export stage keeps only the chosen quant; to compare the whole ladder the other quants are
made again from the run's f16 GGUF (converted from ``merged/`` when the export's copy is gone)
with the export stage's own converter and quantizer, into ``<run>/eval-work/``. The f16 file is
the reference the quality gate measures the quants against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dndtune.errors import DndtuneError
from dndtune.events import EvalConverting, EvalQuantizing, EventSink, NullSink
from dndtune.export.convert import convert_hf_to_gguf
from dndtune.export.quantize import quantize_gguf
from dndtune.export.quants import Rung
from dndtune.export.toolchain import load_toolchain
from dndtune.gguf.quant_types import MOBILE_LADDER, UNQUANTIZED
from dndtune.recipe.loader import load_recipe
from dndtune.runs import F16_NAME, RunFolder

REFERENCE_LABEL = "F16"


@dataclass(frozen=True)
class LadderModel:
    label: str
    path: Path
    role: str
    """``base`` (before fine-tuning), ``reference`` (f16) or ``quant``."""


def _f16(run: RunFolder, events: EventSink) -> Path:
    if run.f16_gguf is not None:
        return run.f16_gguf
    if run.merged is None:
        raise DndtuneError("the run has neither an f16 GGUF nor a merged model to make one from", path=str(run.root),
                           fix="train the run first")

    target = run.layout.eval_work / F16_NAME
    if not target.is_file():
        events.emit(EvalConverting(message=f"converting {run.name}/merged to an f16 GGUF"))
        convert_hf_to_gguf(run.merged, target, load_toolchain(), events=events)
    return target


def ladder_models(run: RunFolder, quants: Sequence[str], *, with_base: bool = True,
                  events: EventSink | None = None) -> list[LadderModel]:
    """Base model (when on this machine), the f16 reference and one GGUF per quant, made if missing."""

    sink = events or NullSink()
    models: list[LadderModel] = []
    if with_base and run.base_model is not None:
        models.append(LadderModel(label="base", path=run.base_model, role="base"))
    f16 = _f16(run, sink)
    models.append(LadderModel(label=REFERENCE_LABEL, path=f16, role="reference"))
    for name in quants:
        rung = Rung.parse(name)
        if rung.quant in UNQUANTIZED:
            continue
        target = run.layout.eval_work / f"{run.name}-{rung.label}.gguf"
        if not target.is_file():
            sink.emit(EvalQuantizing(message=f"quantizing {run.name} to {rung.label}"))
            quantize_gguf(f16, target, rung)
        models.append(LadderModel(label=rung.label, path=target, role="quant"))
    return models


def recipe_ladder(run: RunFolder) -> list[str]:
    """The quant ladder the run's recipe (or its export) lists."""
    ladder = run.manifest.get("target", {}).get("ladder") if isinstance(run.manifest.get("target"), dict) else None
    if isinstance(ladder, list) and ladder:
        return [str(q) for q in ladder]
    recipe = run.layout.recipe
    if recipe.is_file():

        return list(load_recipe(str(recipe)).target.quant_ladder)

    return list(MOBILE_LADDER)
