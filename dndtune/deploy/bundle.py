"""Build a deployable bundle from a run and install it into an app's assets folder.

Two targets, for the two ways Cactus loads models:

- ``gguf``: Cactus's React Native / Flutter SDKs load GGUF through llama.cpp. The bundle is the
  run's verified GGUF (chat template and tool-call format embedded, sha256 checked against the
  export manifest before and after the copy), ``roll.gbnf`` (the grammar replies were evaluated
  under, for llama.cpp's grammar sampler) plus ``dndtune-model.json``.
- ``cactus``: Cactus's current engine loads its own weights, made by ``cactus convert`` from
  Hugging Face safetensors (optionally base + LoRA adapter). The bundle holds ``merged/`` (fp16
  safetensors + tokenizer + chat template), ``adapter/``, ``base/`` (when the base model is on
  this machine), ``convert.sh`` with the exact commands, and ``weights/`` when the optional
  converter is installed and conversion was asked for.

The integration suite runs on the files before they are installed; with ``strict`` a failure
installs nothing.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dndtune.dataset.chat import tools
from dndtune.deploy import cactus_convert
from dndtune.deploy.cactus_engine import LIB_ENV, engine_library
from dndtune.deploy.install import backup_path, check_name, check_target, is_bundle, staged_bundle
from dndtune.deploy.integration import IntegrationReport, run_suite
from dndtune.deploy.manifest import BundleManifest, Decoding, chat_format, write_bundle_manifest
from dndtune.errors import DndtuneError
from dndtune.evaluate.report import read_eval_file
from dndtune.events import DeployConverting, DeployCopying, Deployed, DeployTesting, EventSink, NullSink
from dndtune.gguf.file import read_gguf
from dndtune.hashing import sha256_file
from dndtune.models.grammar import GRAMMAR_FILE, roll_grammar
from dndtune.models.profiles import ModelProfile, family_for_model_type, get_profile, profile_for_folder
from dndtune.runs import RunFolder, read_json

DeployTarget = Literal["gguf", "cactus"]
STAGE = "deploy"
FAMILY_PROFILES = {"gemma2": "gemma-3-270m", "gemma3": "gemma-3-270m", "qwen2": "qwen2.5-0.5b",
                   "qwen3": "qwen3-0.6b"}
"""A shipped profile per family: chat markers and stop tokens are the family's, whatever the size."""


@dataclass(frozen=True)
class DeployOptions:
    target: DeployTarget = "gguf"
    name: str | None = None
    """Folder name inside the assets folder (default: the run name, ``-cactus`` for that target)."""
    test: bool = True
    strict: bool = False
    convert: bool = False
    bits: int = 4
    with_base: bool = True


@dataclass(frozen=True)
class DeployResult:
    installed: Path
    manifest: BundleManifest
    integration: IntegrationReport | None
    notes: list[str] = field(default_factory=list)
    previous: Path | None = None
    """Where the bundle this deploy replaced was kept (``.<name>.previous``), when there was one."""


def run_profile(run: RunFolder, architecture: str | None) -> ModelProfile:
    if run.merged is not None:
        return profile_for_folder(run.merged)
    return get_profile(FAMILY_PROFILES[family_for_model_type(architecture)])


def _scores(run: RunFolder) -> dict[str, float | None]:
    evaluation = read_eval_file(run.eval_json)
    return evaluation.primary_report().headline() if evaluation is not None else {}


def _verified_gguf(run: RunFolder) -> tuple[Path, str]:
    gguf = run.gguf
    if gguf is None:
        raise DndtuneError("the run has no exported GGUF", path=str(run.root),
                           fix=f"export it first: `dndtune export {run.name}`")
    sha = sha256_file(gguf)
    expected = run.manifest.get("sha256")
    if isinstance(expected, str) and expected != sha:
        raise DndtuneError(f"the GGUF does not match its export manifest (sha256 {sha[:12]} != {expected[:12]})",
                           path=str(gguf), fix=f"export the run again: `dndtune export {run.name}`")
    return gguf, sha


def _check(report: IntegrationReport | None, options: DeployOptions) -> None:
    if report is not None and options.strict and not report.passed:
        failed = [f"{r.runtime}: {c.name}" for r in report.runtimes for c in r.checks if c.required and not c.passed]
        raise DndtuneError(f"integration suite failed ({', '.join(failed)}); nothing was installed",
                           fix="fix the model or deploy without --strict")


def deploy(run: RunFolder, assets: Path, options: DeployOptions | None = None,
           events: EventSink | None = None) -> DeployResult:
    options = options or DeployOptions()
    sink = events or NullSink()
    # Checked before the (slow) integration suite: a bad name or a foreign folder fails at once.
    check_target(assets, bundle_name(run, options))
    if options.target == "gguf":
        return _deploy_gguf(run, assets, options, sink)
    return _deploy_cactus(run, assets, options, sink)


def bundle_name(run: RunFolder, options: DeployOptions) -> str:
    """``--name``, else the run name (``-cactus`` added for that target), checked to be one safe folder name."""
    if options.name is not None:
        return check_name(options.name)
    default = run.name if options.target == "gguf" else f"{run.name}-cactus"
    return check_name(default, "the run name (the default --name)")


def _kept(assets: Path, name: str, replaced: bool) -> Path | None:
    backup = backup_path(assets, name)
    return backup if replaced and is_bundle(backup) else None


def _deploy_gguf(run: RunFolder, assets: Path, options: DeployOptions, events: EventSink) -> DeployResult:
    gguf, sha = _verified_gguf(run)
    summary = read_gguf(gguf)
    if not summary.chat_template:
        raise DndtuneError("the GGUF carries no chat template", path=str(gguf), fix=f"dndtune export {run.name}")
    profile = run_profile(run, summary.architecture)
    report = None
    if options.test:
        events.emit(DeployTesting(message=f"integration suite on {gguf.name} (llama.cpp)"))
        report = run_suite(gguf, profile=profile)
    _check(report, options)
    name = bundle_name(run, options)
    # The grammar run_suite decoded under (roll_grammar of the same profile and tools).
    grammar = roll_grammar(profile, tools())
    manifest = BundleManifest(
        name=name, version=f"{run.name}-{sha[:12]}", target="gguf", runtime="llama.cpp", file=gguf.name,
        sha256=sha, size_bytes=gguf.stat().st_size, quant=run.manifest.get("quant"),
        context_length=summary.context_length, architecture=summary.architecture,
        chat_format=chat_format(profile, summary.chat_template), tool_schema=tools(),
        decoding=Decoding(grammar_file=GRAMMAR_FILE, grammar_sha256=hashlib.sha256(grammar.encode()).hexdigest(),
                          stop=list(profile.stop_tokens)),
        eval_scores=_scores(run), integration=report.as_dict() if report is not None else None,
        source={"run": str(run.root), "llama_cpp": run.manifest.get("llama_cpp")},
    )
    target = assets / name
    replaced = is_bundle(target)
    with staged_bundle(assets, name) as tmp:
        shutil.copy2(gguf, tmp / gguf.name)
        if sha256_file(tmp / gguf.name) != sha:
            raise DndtuneError("the copied GGUF does not match the original", path=str(target),
                               fix="check the disk and deploy again")
        (tmp / GRAMMAR_FILE).write_text(grammar, encoding="utf-8")
        write_bundle_manifest(tmp, manifest)
    events.emit(Deployed(message=f"installed {gguf.name} into {target}", path=str(target)))
    return DeployResult(installed=target, manifest=manifest, integration=report,
                        previous=_kept(assets, name, replaced))


def _deploy_cactus(run: RunFolder, assets: Path, options: DeployOptions, events: EventSink) -> DeployResult:
    if run.merged is None:
        raise DndtuneError("the run has no merged model", path=str(run.root),
                           fix="train it to the end (the merge step writes merged/)")
    profile = profile_for_folder(run.merged)
    name = bundle_name(run, options)
    target = assets / name
    replaced = is_bundle(target)
    notes: list[str] = []
    files = {"merged": "merged"}
    with staged_bundle(assets, name) as tmp:
        events.emit(DeployCopying(message=f"laying out {run.name} for cactus convert"))
        shutil.copytree(run.merged, tmp / "merged")
        if run.adapter is not None:
            shutil.copytree(run.adapter, tmp / "adapter")
            files["adapter"] = "adapter"
        if options.with_base and run.base_model is not None:
            shutil.copytree(run.base_model, tmp / "base")
            files["base"] = "base"
        (tmp / "convert.sh").write_text(_convert_script(options.bits), encoding="utf-8")
        (tmp / "convert.sh").chmod(0o755)
        weights: Path | None = None
        if options.convert:
            events.emit(DeployConverting(message=f"cactus convert merged -> weights ({options.bits}-bit)"))
            weights = cactus_convert.convert(tmp / "merged", tmp / "weights", bits=options.bits)
            files["weights"] = "weights"
        report = None
        if options.test:
            events.emit(DeployTesting(message="integration suite (llama.cpp GGUF; Cactus engine when found)"))
            report = run_suite(run.gguf, weights, profile=profile)
        _check(report, options)
        notes = _next_steps(weights, options.bits)
        manifest = BundleManifest(
            name=name, version=f"{run.name}-{(run.manifest.get('sha256') or 'merged')[:12]}", target="cactus",
            runtime="cactus-engine", file="weights" if weights is not None else None,
            sha256=None, size_bytes=_folder_size(weights) if weights is not None else None,
            quant=f"CQ{options.bits}" if weights is not None else None, context_length=None,
            architecture=profile.family, chat_format=chat_format(profile, profile_template(run.merged)),
            tool_schema=tools(), decoding=Decoding(grammar_file=None, stop=list(profile.stop_tokens)),
            eval_scores=_scores(run),
            integration=report.as_dict() if report is not None else None, files=files, next_steps=notes,
            source={"run": str(run.root)},
        )
        write_bundle_manifest(tmp, manifest)
    events.emit(Deployed(message=f"installed the Cactus layout into {target}", path=str(target)))
    return DeployResult(installed=target, manifest=manifest, integration=report, notes=notes,
                        previous=_kept(assets, name, replaced))


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def profile_template(merged: Path) -> str | None:
    """The chat template saved with the merged tokenizer (``chat_template.jinja`` or tokenizer_config.json)."""
    jinja = merged / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")

    template = read_json(merged / "tokenizer_config.json").get("chat_template")
    return template if isinstance(template, str) else None


def _convert_script(bits: int) -> str:
    lines = ["#!/bin/sh", "# Convert this bundle to Cactus engine weights (needs cactus-compute 2.2.2:",
             "#   pip install --no-deps cactus-compute==2.2.2 scipy sentencepiece).", "set -e",
             'cd "$(dirname "$0")"', *cactus_convert.convert_commands(bits)]
    return "\n".join(lines) + "\n"


def _next_steps(weights: Path | None, bits: int) -> list[str]:
    steps: list[str] = []
    if weights is None:
        steps.append("convert: install the converter (`dndtune deploy RUN --to PATH --target cactus --convert "
                     f"--install-cactus`) or run ./convert.sh in this folder ({bits}-bit Cactus weights)")
    if engine_library() is None:
        steps.append(f"on a Mac (arm64): `pip install cactus-compute==2.2.2` ships libcactus_engine; set {LIB_ENV} "
                     "to it and rerun the deploy to test the weights in the native engine, then ship weights/ in the "
                     "app with the Cactus SDK")
    return steps
