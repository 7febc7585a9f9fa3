"""Which training engine runs a recipe (Unsloth or plain TRL + PEFT), at which precision, and on what.

Unsloth is preferred wherever it has a backend: CUDA, and its CPU backend (stock TRL/PEFT with
chunked cross-entropy, fused AdamW and bf16 autocast; ~1.7-2.5x faster per step than plain TRL
on the CPUs measured). It never runs on Apple MPS, and every path works without it installed.

Unsloth patches transformers, TRL and PEFT when it is imported, so it must be imported before
any of them. This module therefore imports nothing heavy at module level: :func:`probe_facts`
reads :func:`dndtune.machine.probe_machine` (which asks torch about the device and looks Unsloth
up with ``importlib.util.find_spec``, never executing it), :func:`select_engine` is a pure
function of those facts, and
:func:`activate_engine` performs the early import once the choice is made. A failing Unsloth
import can leave half-patched libraries behind, so the automatic choice first checks in a
child process that ``import unsloth`` succeeds (:func:`unsloth_imports_cleanly`) and never
touches this process when it does not.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

from dndtune.errors import DndtuneError
from dndtune.machine import Backend, MachineFacts, RequestedDtype, TrainDtype, is_installed, pick_dtype, probe_machine

EngineName = Literal["unsloth", "trl"]
RequestedEngine = Literal["auto", "unsloth", "trl"]

# Libraries Unsloth has to precede; importing it after them leaves some of its patches out.
PATCHED_LIBRARIES = ("transformers", "trl", "peft")


@dataclass(frozen=True)
class EngineFacts:
    """The machine facts the engine choice depends on (``run.json`` records them as ``device``)."""

    backend: Backend
    device_name: str
    unsloth_installed: bool
    bitsandbytes_installed: bool
    bf16_supported: bool
    """bfloat16 compute is native (Ampere+ GPU, or a CPU with AVX512-BF16 / AMX)."""

    @classmethod
    def from_machine(cls, machine: MachineFacts) -> EngineFacts:
        return cls(backend=machine.backend, device_name=machine.device_name,
                   unsloth_installed=machine.has("unsloth"), bitsandbytes_installed=machine.has("bitsandbytes"),
                   bf16_supported=machine.bf16_supported)


@dataclass(frozen=True)
class EngineChoice:
    """The decision, with the sentence the run logs to explain it."""

    name: EngineName
    backend: Backend
    dtype: TrainDtype
    load_in_4bit: bool
    reason: str

    def describe(self) -> str:
        quant = ", 4-bit base (QLoRA)" if self.load_in_4bit else ""
        return f"engine {self.name} on {self.backend} ({self.dtype}{quant}): {self.reason}"


def probe_facts() -> EngineFacts:
    """Probe the machine (no optional engine is imported) and keep what the engine choice needs."""
    return EngineFacts.from_machine(probe_machine())


def select_engine(
    requested: RequestedEngine,
    *,
    load_in_4bit: bool,
    dtype: RequestedDtype,
    facts: EngineFacts,
    unsloth_import_ok: bool | None = None,
) -> EngineChoice:
    """Decide engine, precision and quantization; raise :class:`DndtuneError` on an impossible request.

    ``unsloth_import_ok`` is the result of :func:`unsloth_imports_cleanly` when the caller ran it
    (``None``: not checked, trust ``facts.unsloth_installed``).
    """
    if load_in_4bit and facts.backend != "cuda":
        raise DndtuneError(
            f"base_model.load_in_4bit needs an NVIDIA GPU (CUDA); this machine trains on {facts.backend}",
            fix="set base_model.load_in_4bit: false",
        )
    if load_in_4bit and not facts.bitsandbytes_installed:
        raise DndtuneError("base_model.load_in_4bit needs bitsandbytes, which is not installed",
                           fix="pip install 'bitsandbytes>=0.45' or set base_model.load_in_4bit: false")
    train_dtype = _select_dtype(dtype, facts)
    unsloth_usable = facts.unsloth_installed and unsloth_import_ok is not False

    if requested == "trl":
        return EngineChoice("trl", facts.backend, train_dtype, load_in_4bit, "requested by train.engine")
    if requested == "unsloth":
        if not facts.unsloth_installed:
            raise DndtuneError("train.engine is unsloth but unsloth is not installed",
                               fix="pip install unsloth, or set train.engine: auto")
        if unsloth_import_ok is False:
            raise DndtuneError("train.engine is unsloth but `import unsloth` fails on this machine",
                               fix="run `python -c 'import unsloth'` to see why, or set train.engine: auto")
        if facts.backend == "mps":
            raise DndtuneError("train.engine is unsloth but Unsloth has no Apple MPS backend",
                               fix="set train.engine: auto or trl")
        return EngineChoice("unsloth", facts.backend, train_dtype, load_in_4bit, "requested by train.engine")
    # auto: Unsloth on CUDA where it imports cleanly. Its CPU backend works (train.engine: unsloth)
    # but measured slower than dndtune's TRL path on CPU (3.8-5.0 vs 3.5-4.2 s/step, Gemma 3 270M,
    # 1024 tokens, 2 cores; benchmarks/RESULTS.md), so auto does not pick it there.
    if facts.backend == "mps":
        return EngineChoice("trl", facts.backend, train_dtype, load_in_4bit,
                            "auto: Unsloth has no MPS backend, plain TRL + PEFT")
    if facts.backend == "cpu":
        return EngineChoice("trl", facts.backend, train_dtype, load_in_4bit,
                            "auto: on CPU dndtune's TRL path is faster than Unsloth's CPU backend")
    if unsloth_usable:
        return EngineChoice("unsloth", facts.backend, train_dtype, load_in_4bit,
                            f"auto: unsloth importable, CUDA ({facts.device_name})")
    why = "unsloth is not installed" if not facts.unsloth_installed else "`import unsloth` fails here"
    return EngineChoice("trl", facts.backend, train_dtype, load_in_4bit, f"auto: {why}, plain TRL + PEFT")


def _select_dtype(requested: RequestedDtype, facts: EngineFacts) -> TrainDtype:
    if requested == "float16" and facts.backend != "cuda":
        raise DndtuneError(f"float16 training needs a CUDA GPU; this machine trains on {facts.backend}",
                           fix="set base_model.dtype: auto (bfloat16 or float32)")
    if requested == "bfloat16" and facts.backend == "mps":
        raise DndtuneError("bfloat16 training is not reliable on Apple MPS",
                           fix="set base_model.dtype: auto or float32")
    return pick_dtype(requested, facts.backend, facts.bf16_supported)


def unsloth_imports_cleanly(timeout_s: float = 300.0) -> bool:
    """Try ``import unsloth`` in a child process, so a crash or a bad patch cannot hurt this one."""
    if not is_installed("unsloth"):
        return False
    try:
        done = subprocess.run([sys.executable, "-c", "import unsloth"], capture_output=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def activate_engine(choice: EngineChoice) -> list[str]:
    """Import the chosen engine before transformers/TRL/PEFT; returns notes for the run log.

    Called by the pipeline before its first transformers import. Doing nothing for the TRL
    engine is deliberate: the plain path must never depend on Unsloth being present. Unsloth
    prints a banner on import; it is captured and returned instead, since the library's faces
    decide what reaches the terminal.
    """
    if choice.name != "unsloth" or "unsloth" in sys.modules:
        return []
    early = [name for name in PATCHED_LIBRARIES if name in sys.modules]
    banner = io.StringIO()
    try:
        with contextlib.redirect_stdout(banner):
            importlib.import_module("unsloth")
    except Exception as exc:  # Unsloth raises several types (NotImplementedError without a GPU, ImportError)
        raise DndtuneError(f"could not import unsloth: {exc}",
                           fix="set train.engine: trl to train without it") from exc
    notes = [line.strip() for line in banner.getvalue().splitlines() if line.strip()]
    if early:
        notes.append(f"unsloth was imported after {', '.join(early)}; some of its speed-ups may be missing "
                     "(start dndtune in a fresh process)")
    return notes
