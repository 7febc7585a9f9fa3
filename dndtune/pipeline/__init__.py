"""The one way to run dndtune: ``build_pipeline(recipe, events) -> Pipeline``, then ``Pipeline.run()``.

The CLI, the TUI and the tests all build runs through :func:`build_pipeline`. A pipeline is an
ordered list of stages (:data:`~dndtune.pipeline.stages.DEFAULT_STAGES`); each is a plain function
``run(ctx) -> result`` that reads what earlier stages left on the :class:`RunContext`, gives its
stage package a typed input, and reports through ``ctx.events``:

``doctor``   pick the training engine (and import Unsloth first when it is chosen), check the machine
``model``    resolve the base model, check it is supported, choose its chat template
``dataset``  scenarios -> train/eval conversations
``train``    LoRA fine-tuning with checkpoints, resume, eval and early stopping
``merge``    adapter + base -> ``merged/`` (safetensors + tokenizer with chat template)
``export``   ``merged/`` -> GGUF for the target (:func:`dndtune.export.run.export_run`)
``evaluate`` the GGUF and the base model on the held-out split, against the goals (:mod:`dndtune.evaluate.stage`)

Everything a run writes lives in its run folder (:mod:`dndtune.runs`), and ``run.json`` there is
rewritten after every stage, so a crash or a stop still leaves an accurate record.
"""

from dndtune.pipeline.context import PipelineResult, RunContext, RunStatus, Stage
from dndtune.pipeline.runner import Pipeline, build_pipeline
from dndtune.pipeline.stages import DEFAULT_STAGES

__all__ = ["DEFAULT_STAGES", "Pipeline", "PipelineResult", "RunContext", "RunStatus", "Stage", "build_pipeline"]
