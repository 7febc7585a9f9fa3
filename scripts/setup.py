#!/usr/bin/env python3
"""Create .venv and install dndtune with its dev extras; a fast no-op when nothing changed.

Stdlib only: it runs with whatever python3 the machine has before anything is installed.

Why torch is installed on its own first: an unpinned ``torch`` requirement makes pip pick a
CUDA build (several GB) even on a machine with no NVIDIA GPU. We install a CPU build first
when there is no GPU, after which the project's ``torch>=2.4`` range is already satisfied.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".dndtune-setup-stamp"
SUPPORTED = ((3, 10), (3, 11), (3, 12))
# The CPU build these machines carry on their local wheel path; elsewhere pip gets it from
# PyTorch's CPU index (DNDTUNE_TORCH_CPU_INDEX overrides the address).
TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = os.environ.get("DNDTUNE_TORCH_CPU_INDEX", "https://download.pytorch.org/whl/cpu")
# Unsloth is the training engine on CUDA and also has a CPU backend (~1.7x faster per step than
# plain TRL here). A plain `pip install unsloth` drags in xformers/torchvision/triton pins that
# replace the installed torch, so it goes in with --no-deps at versions pinned together; its
# runtime needs (the HF stack, psutil, packaging, numpy) are already dndtune dependencies.
UNSLOTH = ("unsloth==2026.10.9", "unsloth_zoo==2026.10.9")
# Hashed into the stamp: a change to any of them re-runs the install.
INPUTS = ("pyproject.toml", "scripts/setup.py")


def log(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def run(cmd: list[str], **kw: object) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def find_python() -> str:
    """Prefer 3.11 (the local CPU torch wheel is cp311), then any other supported version."""
    candidates = [f"python{major}.{minor}" for major, minor in ((3, 11), (3, 12), (3, 10))]
    candidates += ["python3", sys.executable]
    for name in candidates:
        exe = shutil.which(name) or (name if Path(name).exists() else None)
        if not exe:
            continue
        out = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True)
        if out.returncode == 0 and tuple(map(int, out.stdout.split())) in SUPPORTED:
            return exe
    sys.exit("[setup] error: dndtune needs Python 3.10, 3.11 or 3.12; install one and rerun `npm run setup`")


def has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    return subprocess.run([smi, "-L"], capture_output=True).returncode == 0


def stamp_value(py: Path, gpu: bool) -> str:
    h = hashlib.sha256()
    for rel in INPUTS:
        h.update(rel.encode())
        h.update((ROOT / rel).read_bytes())
    h.update(f"gpu={gpu} unsloth={wants_unsloth(gpu)}".encode())
    h.update(subprocess.run([str(py), "-V"], capture_output=True, text=True).stdout.encode())
    return h.hexdigest()


def wants_unsloth(gpu: bool) -> bool:
    """On CUDA always; on CPU only where its CPU backend runs (Linux x86_64). DNDTUNE_NO_UNSLOTH=1 opts out."""
    if os.environ.get("DNDTUNE_NO_UNSLOTH"):
        return False
    return gpu or (platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"))


def ensure_llama_converter(py: Path) -> None:
    """llama.cpp's HF -> GGUF converter from the pinned llama-cpp-python sdist (a fast no-op when present)."""
    run([str(py), "-m", "dndtune.export.toolchain"])


def torch_installed(py: Path) -> bool:
    return subprocess.run([str(py), "-c", "import torch"], capture_output=True).returncode == 0


def install_cpu_torch(pip: list[str]) -> None:
    """Install the CPU build of torch, from the local wheel path when pip would pick a +cpu wheel there."""
    report = subprocess.run(
        [*pip, "install", "--dry-run", "--quiet", "--report", "-", f"torch=={TORCH_VERSION}"],
        capture_output=True, text=True,
    )
    picks_cpu = False
    if report.returncode == 0 and report.stdout.strip():
        for item in json.loads(report.stdout).get("install", []):
            if item["metadata"]["name"] == "torch":
                picks_cpu = "+cpu" in item["metadata"]["version"] or platform.system() != "Linux"
    if picks_cpu:
        run([*pip, "install", f"torch=={TORCH_VERSION}"])
    else:
        run([*pip, "install", f"torch=={TORCH_VERSION}", "--index-url", TORCH_CPU_INDEX])


def main() -> None:
    gpu = has_nvidia_gpu()
    if not (VENV / "bin" / "python").exists():
        run([find_python(), "-m", "venv", str(VENV)])
    py = VENV / "bin" / "python"
    want = stamp_value(py, gpu)
    if STAMP.exists() and STAMP.read_text().strip() == want and not os.environ.get("DNDTUNE_FORCE_SETUP"):
        ensure_llama_converter(py)  # the cache may have been wiped while the venv stayed
        log("up to date")
        return
    pip = [str(py), "-m", "pip", "--disable-pip-version-check"]
    if not torch_installed(py):
        if gpu:
            run([*pip, "install", f"torch=={TORCH_VERSION}"])
        else:
            install_cpu_torch(pip)
    run([*pip, "install", "-e", f"{ROOT}[dev,demo]"])
    if gpu:
        run([*pip, "install", "bitsandbytes>=0.45"])
    if wants_unsloth(gpu):
        run([*pip, "install", "--no-deps", *UNSLOTH])
    ensure_llama_converter(py)
    STAMP.write_text(want + "\n")
    log("done")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(f"[setup] error: {' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}")
