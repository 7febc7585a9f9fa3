"""The export stage: merged HF model -> f16 GGUF -> quant ladder -> verified GGUF + ``model.json``.

Outputs land in ``<run>/export/`` in one rename: a failure at any step leaves the previous export
as it was. Intermediate files live in ``<run>/export-work/``; the f16 GGUF stays there (stamped
with the merged folder's fingerprint) so a re-export with another quant skips the conversion,
and every quantized try that is not the choice is deleted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError
from dndtune.events import Benchmarked, Converting, EventSink, ExportDone, NoHeldOut, NullSink, StageStarted
from dndtune.events.export import QuantGated
from dndtune.export.bench import profile_for_target
from dndtune.export.convert import cached_conversion, check_hf_folder, convert_hf_to_gguf, write_conversion_stamp
from dndtune.export.gate import REFERENCE_LABEL, GateVerdict, TaskGate, side_by_side
from dndtune.export.ladder import LadderResult, NoFitError, expand_ladder, walk_ladder
from dndtune.export.manifest import ExportManifest, Perf, QuantTry, read_manifest, write_manifest
from dndtune.export.perplexity import dm_perplexity
from dndtune.export.predict import predict, read_model_info
from dndtune.export.prune import DEFAULT_TOLERANCE, PruneResult, prune_to_fit, pruned_info
from dndtune.export.quantize import quantize_gguf
from dndtune.export.quants import Rung
from dndtune.export.reference import HfReference, load_conversations
from dndtune.export.targets import ExportTarget, Prefer, TargetKind, default_target, target_from_recipe
from dndtune.export.toolchain import load_toolchain
from dndtune.export.verify import build_prompts, verify_gguf
from dndtune.gguf.file import read_gguf
from dndtune.hashing import sha256_file
from dndtune.models.profiles import profile_for_folder
from dndtune.recipe.loader import load_recipe
from dndtune.runs import RunLayout
from dndtune.units import format_size

MAX_EVAL_CONVERSATIONS = 16
MAX_EVAL_TOKENS = 1024


@dataclass(frozen=True)
class ExportResult:
    gguf: Path
    manifest_path: Path
    manifest: ExportManifest

    def as_dict(self) -> dict[str, Any]:
        """The summary ``run.json`` keeps."""
        m = self.manifest
        return {"gguf": str(self.gguf), "manifest": str(self.manifest_path), "quant": m.quant, "bytes": m.bytes,
                "sha256": m.sha256, "perplexity": m.scores.get("perplexity"),
                "gen_tps": m.perf.gen_tps if m.perf else None, "gate": m.gate}


def export_run(run: Path | RunLayout, target: ExportTarget | TargetKind | None = None,
               events: EventSink | None = None, quant: str | None = None, *, merged: Path | None = None,
               size_limit: int | None = None, gate: float | None = None, prune: bool = False,
               strict: bool = False, allow_drift: bool = False, bench: bool = True, prefer: Prefer | None = None,
               task_gate: TaskGate | None = None) -> ExportResult:
    """Export a run folder (``training-output/runs/NAME``) for ``target``.

    ``target`` defaults to the run's ``recipe.yaml`` target (else the default mobile target);
    ``merged`` to the run's ``merged/`` folder. ``quant`` forces one
    rung (``Q5_K_M``, ``Q4_0+emb=Q4_0``) instead of the ladder; ``gate`` enables the perplexity
    quality gate; ``prune`` allows layer pruning when nothing fits; ``strict`` makes the behaviour
    checks (stops at end of turn, parseable tool call) fatal; ``allow_drift`` accepts a file whose
    next-token distributions drift past its type's tolerance (the drift is still reported).
    ``prefer`` overrides the target's (``smallest``: the smallest file ``task_gate`` passes, tried smallest first);
    ``task_gate`` scores a candidate file against the f16 file on held-out DM turns
    (:mod:`dndtune.export.gate`): the ladder uses it with ``prefer="smallest"``, pruning whenever given.
    The boolean flags only switch on what the target (the recipe) leaves off.
    """
    layout = run if isinstance(run, RunLayout) else RunLayout(Path(run))
    resolved = resolve_target(layout, target).with_overrides(size_limit=size_limit, quality_gate=gate,
                                                              prune=prune or None, prefer=prefer,
                                                              allow_drift=allow_drift or None)
    return _Export(layout, merged or layout.merged, resolved, events or NullSink(), quant, strict=strict,
                   bench=bench, task_gate=task_gate).run()


def resolve_target(layout: RunLayout, target: ExportTarget | TargetKind | None) -> ExportTarget:
    """``target`` as given, else the run's ``recipe.yaml`` target (when of that kind), else the default."""
    if isinstance(target, ExportTarget):
        return target
    if layout.recipe.is_file():
        section = load_recipe(str(layout.recipe)).target
        if target is None or section.kind == target:
            return target_from_recipe(section)
    return default_target(target or "mobile")


class _Export:
    def __init__(self, layout: RunLayout, merged: Path, target: ExportTarget, events: EventSink, quant: str | None,
                 *, strict: bool, bench: bool, task_gate: TaskGate | None = None) -> None:
        self.layout = layout
        self.run_dir = layout.root
        self.merged = merged
        self.target = target
        self.events = events
        self.quant = Rung.parse(quant) if quant else None
        self.strict = strict
        self.allow_drift = target.allow_drift
        self.bench = bench
        self.task_gate = task_gate
        self.verdicts: dict[str, GateVerdict] = {}
        self.work = layout.export_work
        self.timings: dict[str, float] = {}

    def run(self) -> ExportResult:
        if not self.run_dir.is_dir():
            raise DndtuneError("run folder not found", path=str(self.run_dir),
                               fix="give a run folder (training-output/runs/NAME) or a run name")
        check_hf_folder(self.merged)
        toolchain = load_toolchain()
        self.events.emit(StageStarted(stage="export", message=f"exporting {self.run_dir.name} for {self.target.kind} "
                                                              f"(limit {format_size(self.target.size_limit)})"))
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            return self._export(toolchain)
        finally:
            for leftover in self.work.glob("*.gguf"):
                if leftover != self.layout.f16_gguf:
                    leftover.unlink(missing_ok=True)

    def _export(self, toolchain: Any) -> ExportResult:
        f16 = self._f16(toolchain)
        info = read_model_info(f16)
        rungs = [self.quant] if self.quant else expand_ladder(self.target.ladder, info,
                                                               embedding_rungs=self.target.embedding_rungs)
        reference = HfReference(self.merged)
        profile = profile_for_folder(self.merged)
        conversations = self._conversations()
        sequences = [s for s in (reference.scored_sequence(c, MAX_EVAL_TOKENS) for c in conversations) if s]
        threads = self.target.measure_threads()
        stem = self.run_dir.name

        def quantize(rung: Rung) -> Any:
            return quantize_gguf(f16, self.work / f"{stem}-{rung.label}.gguf", rung, threads=threads)

        def score(path: Path) -> float | None:
            return dm_perplexity(path, sequences, threads=threads) if sequences else None

        accept = None
        if self.target.prefer == "smallest" and not self.quant:
            if self.task_gate is None:
                self.events.emit(NoHeldOut(message="target.prefer: smallest needs the run's held-out split to "
                                                   "evaluate candidates on: taking the first rung that fits",
                                           level="warning"))
            else:
                def accept(result: Any) -> GateVerdict:
                    return self._judge(result.path, result.rung.label, f16)

        start = time.perf_counter()
        pruning: PruneResult | None = None
        try:
            ladder = walk_ladder(info, rungs, self.target.size_limit, quantize, score=score if sequences else None,
                                 gate=self.target.quality_gate, accept=accept, events=self.events,
                                 discard=lambda p: p.unlink(missing_ok=True))
        except NoFitError as no_fit:
            if not self.target.prune:
                raise
            ladder, pruning = self._prune(info, no_fit, f16, sequences, score, threads)
        self.timings["ladder_s"] = time.perf_counter() - start - self.timings.get("gate_s", 0.0)
        chosen = ladder.chosen

        start = time.perf_counter()
        prompts = build_prompts(reference, conversations)
        report = verify_gguf(chosen.path, chosen.rung, reference, profile, prompts, sequences, self.work,
                             threads=threads, pruned=pruning is not None, allow_drift=self.allow_drift,
                             events=self.events)
        self.timings["verify_s"] = time.perf_counter() - start
        failures = report.failures(strict=self.strict)
        if failures:
            raise DndtuneError(f"{chosen.rung.label} GGUF failed verification: {failures[0].name}: "
                               f"{failures[0].detail}", path=str(self.merged),
                               fix="the previous export is unchanged; see the verify events for every check")
        perf: Perf | None = None
        if self.bench:
            start = time.perf_counter()
            perf = profile_for_target(chosen.path, self.target)
            self.timings["bench_s"] = time.perf_counter() - start
            self.events.emit(Benchmarked(
                message=f"{perf.gen_tps:.1f} tokens/s generation, {perf.prompt_tps:.0f} tokens/s prompt, "
                        f"peak RAM {perf.peak_rss_bytes / 1e6:.0f} MB",
                gen_tps=perf.gen_tps, prompt_tps=perf.prompt_tps, peak_rss_bytes=perf.peak_rss_bytes))
        return self._publish(chosen, ladder, report, perf, toolchain, conversations_used=len(sequences),
                             pruning=pruning, f16=f16)

    def _judge(self, path: Path, label: str, f16: Path) -> GateVerdict:
        """The task gate on one file, timed and reported; the verdict is kept for model.json."""
        assert self.task_gate is not None
        start = time.perf_counter()
        verdict = self.task_gate(path, label, f16)
        self.timings["gate_s"] = self.timings.get("gate_s", 0.0) + time.perf_counter() - start
        self.verdicts[label] = verdict
        outcome = "within" if verdict.passed else "outside"
        why = f": {'; '.join(verdict.failures)}" if verdict.failures else ""
        self.events.emit(QuantGated(
            message=f"{side_by_side(verdict, path.stat().st_size)} ({outcome} the {self.target.gate_tolerance:g} "
                    f"gate on {verdict.turns} held-out DM turns){why}",
            level="info" if verdict.passed else "warning", quant=label, scores=verdict.scores,
            reference_scores=verdict.reference_scores, passed=verdict.passed, failures=list(verdict.failures),
            turns=verdict.turns))
        return verdict

    def _prune(self, info: Any, no_fit: NoFitError, f16: Path, sequences: list[Any], score: Any,
               threads: int) -> tuple[LadderResult, PruneResult]:
        if not sequences:
            raise DndtuneError(f"{no_fit.message}; pruning needs held-out conversations to measure layers on",
                               path=str(self.run_dir), fix="build the dataset with data.eval_fraction > 0")
        rung = no_fit.smallest.rung
        stem = self.run_dir.name

        def quantize(r: Rung, layers: tuple[int, ...], tag: str) -> Any:
            return quantize_gguf(f16, self.work / f"{stem}-{r.label}-{tag}.gguf", r, threads=threads,
                                 prune_layers=layers)

        tolerance = next((t for t in (self.target.prune_tolerance, self.target.quality_gate) if t is not None),
                         DEFAULT_TOLERANCE)
        outcome = prune_to_fit(info, rung, self.target.size_limit, quantize, score, tolerance=tolerance,
                               events=self.events, discard=lambda p: p.unlink(missing_ok=True))
        fix = "raise target.size_limit or target.prune.tolerance"
        if outcome is None or outcome.result is None:
            why = ("no number of dropped layers makes it fit" if outcome is None else
                   f"dropping layers {list(outcome.layers)} raised DM-turn perplexity "
                   f"{outcome.base_perplexity:.3f} -> {outcome.perplexity:.3f}, over the {tolerance:.0%} gate")
            raise DndtuneError(f"{no_fit.message}; pruning did not help: {why}", path=str(self.run_dir), fix=fix)
        label = f"{rung.label} (layers {list(outcome.layers)} pruned)"
        verdict = self._judge(outcome.result.path, label, f16) if self.task_gate is not None else None
        if verdict is not None and not verdict.passed:
            outcome.result.path.unlink(missing_ok=True)
            raise DndtuneError(f"{no_fit.message}; pruning did not help: {label} is "
                               f"{format_size(outcome.result.bytes)} but outside target.gate: {verdict.failures[0]}",
                               path=str(self.run_dir), fix="raise target.size_limit or loosen target.gate.tolerance")
        prediction = predict(pruned_info(info, outcome.layers), rung)
        tries = [*no_fit.tries, QuantTry(rung=label,
                                         predicted_bytes=prediction.bytes, fits=True,
                                         actual_bytes=outcome.result.bytes, quantize_s=outcome.result.seconds,
                                         perplexity=outcome.perplexity, fallbacks=len(prediction.fallbacks),
                                         outcome="chosen", scores=dict(verdict.scores) if verdict else None)]
        return LadderResult(chosen=outcome.result, prediction=prediction, tries=tries,
                            perplexities={rung.label: outcome.base_perplexity}), outcome

    def _f16(self, toolchain: Any) -> Path:
        target = self.layout.f16_gguf
        cached = cached_conversion(self.merged, target)
        if cached is not None:
            self.timings["convert_s"] = 0.0
            self.events.emit(Converting(message=f"reusing {target.name} (merged model unchanged)", cached=True))
            return target
        result = convert_hf_to_gguf(self.merged, target, toolchain, events=self.events)
        write_conversion_stamp(result)
        self.timings["convert_s"] = result.seconds
        return target

    def _conversations(self) -> list[Any]:
        if self.layout.eval_split.is_file():
            return load_conversations(self.layout.eval_split, MAX_EVAL_CONVERSATIONS)
        self.events.emit(NoHeldOut(message="no held-out eval.jsonl in the run: verifying on a built-in DM exchange, "
                                           "perplexity not reported"))
        return []

    def _gate_record(self, chosen_label: str, chosen_bytes: int, f16: Path) -> dict[str, Any] | None:
        """``model.json``'s ``gate``: the f16 file's and the chosen file's scores side by side."""
        if not self.verdicts:
            return None
        any_verdict = next(iter(self.verdicts.values()))
        mine = self.verdicts.get(chosen_label)
        return {"prefer": self.target.prefer, "scores": list(self.target.gate_scores),
                "tolerance": self.target.gate_tolerance, "turns": any_verdict.turns,
                "reference": {"label": REFERENCE_LABEL, "bytes": f16.stat().st_size,
                              "scores": any_verdict.reference_scores},
                "chosen": {"label": chosen_label, "bytes": chosen_bytes,
                           "scores": mine.scores if mine is not None else None,
                           "passed": mine.passed if mine is not None else None}}

    def _publish(self, chosen: Any, ladder: Any, report: Any, perf: Perf | None, toolchain: Any,
                 *, conversations_used: int, pruning: PruneResult | None, f16: Path) -> ExportResult:
        summary = read_gguf(chosen.path)
        sha = sha256_file(chosen.path)
        file_name = f"{self.run_dir.name}-{chosen.rung.label}.gguf"
        run_record = self.layout.read_record()
        raw_model = run_record.get("model")
        model_record: dict[str, Any] = raw_model if isinstance(raw_model, dict) else {}
        manifest = ExportManifest(
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            run=self.run_dir.name,
            run_dir=str(self.run_dir),
            base_model=model_record.get("path") or model_record.get("profile") or summary.name,
            target={"kind": self.target.kind, "size_limit": self.target.size_limit, "n_ctx": self.target.n_ctx,
                    "threads": self.target.threads, "ladder": [r.label for r in self.target.ladder],
                    "prune": self.target.prune, "prefer": self.target.prefer,
                    "embedding_fallback": self.target.embedding_rungs, "allow_drift": self.allow_drift},
            file=file_name,
            quant=chosen.rung.label,
            file_type=summary.file_type,
            token_embedding_type=summary.tensor_types.get("token_embd.weight"),
            bytes=chosen.bytes,
            sha256=sha,
            size_limit=self.target.size_limit,
            llama_cpp=toolchain.describe(),
            architecture=summary.architecture,
            context_length=summary.context_length,
            chat_template=summary.chat_template,
            special_tokens={"bos_token_id": summary.bos_token_id, "eos_token_id": summary.eos_token_id,
                            "eot_token_id": summary.eot_token_id},
            tensor_types=summary.type_counts(),
            fallback_tensors=[f"{t.name}: {t.fallback_from} -> {t.target_type}" for t in ladder.prediction.fallbacks],
            ladder=ladder.tries,
            quality_gate=self.target.quality_gate,
            scores={"perplexity": report.perplexity, "perplexity_tokens": report.perplexity_tokens,
                    "perplexity_conversations": conversations_used, "parity": report.parity,
                    "perplexity_by_quant": ladder.perplexities, "eval": run_record.get("evaluate")},
            verify=[{"name": c.name, "passed": c.passed, "required": c.required, "detail": c.detail}
                    for c in report.checks],
            samples=report.samples,
            perf=perf,
            timings=self.timings,
            source={"merged": str(self.merged)},
            pruning=pruning.to_json() if pruning is not None else None,
            gate=self._gate_record(ladder.tries[-1].rung if pruning is not None else chosen.rung.label,
                                   chosen.bytes, f16),
        )
        final_dir = self.layout.export
        with atomic_path(final_dir, is_dir=True) as tmp:
            os.replace(chosen.path, tmp / file_name)
            write_manifest(tmp / self.layout.manifest.name, manifest)
            # Temp files are created private; the published export is an ordinary readable folder.
            tmp.chmod(0o755)
            for path in tmp.iterdir():
                path.chmod(0o644)
        result = ExportResult(gguf=final_dir / file_name, manifest_path=self.layout.manifest, manifest=manifest)
        m = result.manifest
        self.events.emit(ExportDone(
            message=f"{file_name}: {chosen.bytes / 1e6:.1f} MB ({chosen.rung.label}) in {final_dir}",
            gguf=str(result.gguf), manifest=str(result.manifest_path), quant=m.quant, bytes=m.bytes, sha256=m.sha256,
            perplexity=m.scores.get("perplexity"), gen_tps=m.perf.gen_tps if m.perf else None))
        return result


def find_export(run_dir: Path) -> tuple[Path, ExportManifest]:
    """The exported GGUF and manifest of a run, checked against each other."""
    layout = RunLayout(run_dir)
    manifest = read_manifest(layout.manifest)
    return layout.export / manifest.file, manifest
