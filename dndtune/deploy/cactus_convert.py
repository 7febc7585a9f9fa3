"""Cactus's converter (``cactus convert``) from the optional ``cactus-compute`` package.

``cactus-compute`` is proprietary-licensed, so it is never a dndtune dependency: it is installed
only when the user asks (``dndtune deploy --install-cactus``), pinned, with ``--no-deps`` (its
``convert`` extra pins transformers 5.5.4 and its torchvision dependency pulls a CUDA torch), plus
the two libraries its converter imports that dndtune does not already have: scipy and
sentencepiece. Text models then convert offline with the transformers dndtune runs on.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from dndtune.errors import DndtuneError

CACTUS_PACKAGE = "cactus-compute==2.2.2"
CONVERTER_NEEDS = ("scipy>=1.13", "sentencepiece>=0.2.0")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cactus_cli() -> list[str] | None:
    """The command that runs ``cactus`` (the venv's script first, then PATH), or None."""
    if importlib.util.find_spec("cactus") is None:
        return None
    script = Path(sys.executable).parent / "cactus"
    if script.is_file():
        return [str(script)]
    found = shutil.which("cactus")
    return [found] if found else None


def install_cactus(python: str | None = None) -> str:
    """``pip install --no-deps cactus-compute==2.2.2`` and the converter's two imports; returns pip's last line."""
    exe = python or sys.executable
    last = ""
    for args in (["--no-deps", CACTUS_PACKAGE], list(CONVERTER_NEEDS)):
        proc = subprocess.run([exe, "-m", "pip", "install", "--disable-pip-version-check", *args],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DndtuneError(f"could not install {' '.join(args)}: {tail}",
                               fix="check access to the package registry, then rerun with --install-cactus")
        last = (proc.stdout.strip().splitlines() or [""])[-1]
    return last


def convert(model: Path, out: Path, *, bits: int = 4, lora: Path | None = None, timeout: float | None = 3600
            ) -> Path:
    """``cactus convert MODEL OUT --bits N --weights-only [--lora ADAPTER]``: Cactus engine weights in ``out``.

    With ``lora``, ``model`` is the base model and Cactus merges the adapter itself.
    """
    cli = cactus_cli()
    if cli is None:
        raise DndtuneError("the cactus converter is not installed",
                           fix="rerun with --install-cactus (installs cactus-compute==2.2.2 --no-deps)")
    if out.exists():
        shutil.rmtree(out)
    cmd = [*cli, "convert", str(model), str(out), "--bits", str(bits), "--weights-only"]
    if lora is not None:
        cmd += ["--lora", str(lora)]
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DndtuneError(f"cactus convert took longer than {timeout:.0f} s", path=str(model)) from None
    output = _ANSI.sub("", proc.stdout + proc.stderr)
    if proc.returncode != 0 or not any(out.glob("*.weights")):
        lines = [line for line in output.strip().splitlines() if line.strip()] or ["no output"]
        raise DndtuneError(f"cactus convert failed: {lines[-1]}", path=str(model),
                           fix="run the command in the bundle's convert.sh by hand to see the whole log")
    return out


def convert_commands(bits: int = 4) -> list[str]:
    """The commands a user runs by hand in the bundle folder (written to ``convert.sh``)."""
    return [
        f"cactus convert merged weights --bits {bits} --weights-only",
        f"# or, from the base model and the LoRA adapter:\n# cactus convert base weights --bits {bits} "
        "--weights-only --lora adapter",
    ]
