"""GGUF export: merged HF model -> quantized, verified, profiled GGUF that fits the target.

Public entry points (heavy imports happen inside them):

- :func:`dndtune.export.run.export_run` — the whole stage for a run folder.
- :func:`dndtune.export.predict.predict` — a rung's file size from the f16 GGUF's shapes.
- :func:`dndtune.export.convert.convert_hf_to_gguf`, :func:`dndtune.export.quantize.quantize_gguf`.
- :func:`dndtune.export.verify.verify_gguf`, :func:`dndtune.export.bench.profile_performance`.
- :func:`dndtune.export.toolchain.ensure_converter` — setup's converter install step.
"""
