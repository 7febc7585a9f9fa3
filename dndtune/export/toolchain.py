"""The llama.cpp toolchain: pinned bindings (runtime + quantizer) and the matching HF -> GGUF converter.

``llama-cpp-python`` is installed from PyPI by setup; the wheel it builds holds ``libllama`` but
not llama.cpp's Python converter. The converter ships in the same package's source distribution,
so :func:`ensure_converter` downloads that exact sdist with pip (the registry, never GitHub) and
extracts only ``convert_hf_to_gguf.py``, its ``conversion/`` package and ``gguf-py/`` into the
cache. Converter and runtime therefore always come from one llama.cpp commit, recorded in every
manifest. Nothing is fetched while exporting: a missing converter is a setup error.

Run ``python -m dndtune.export.toolchain`` to install it (idempotent, a fast no-op when present).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError
from dndtune.hashing import sha256_file
from dndtune.paths import cache_dir

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
"""The one pinned version: pyproject.toml pins the bindings to it and the converter is taken from its sdist."""

_PACKAGE = "llama-cpp-python"
_SDIST_ROOT = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"
_VENDOR = f"{_SDIST_ROOT}/vendor/llama.cpp/"
# What the converter needs at run time; everything else in the 75 MB sdist is C++ source.
_KEEP = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/gguf/", "LICENSE")
_COMMIT_FILE = f"{_SDIST_ROOT}/.git/modules/vendor/llama.cpp/HEAD"
_STAMP = "toolchain.json"
SETUP_FIX = "run `npm run setup` (or `python -m dndtune.export.toolchain`) once with registry access"


@dataclass(frozen=True)
class Toolchain:
    """Where the converter lives and which llama.cpp it and the runtime come from."""

    converter_dir: Path
    llama_cpp_python: str
    llama_cpp_commit: str

    @property
    def script(self) -> Path:
        return self.converter_dir / "convert_hf_to_gguf.py"

    def describe(self) -> dict[str, str]:
        """The version block written into every manifest."""
        return {"llama_cpp_python": self.llama_cpp_python, "llama_cpp_commit": self.llama_cpp_commit}


def default_converter_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "toolchain" / f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}"


def installed_bindings_version() -> str | None:
    try:
        return metadata.version(_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def load_toolchain(converter_dir: Path | None = None) -> Toolchain:
    """The installed toolchain, checked: bindings at the pinned version and a matching converter."""
    bindings = installed_bindings_version()
    if bindings is None:
        raise DndtuneError(f"{_PACKAGE} is not installed", fix=SETUP_FIX)
    if bindings != LLAMA_CPP_PYTHON_VERSION:
        raise DndtuneError(
            f"{_PACKAGE} {bindings} is installed but dndtune is pinned to {LLAMA_CPP_PYTHON_VERSION}",
            fix=f"pip install {_PACKAGE}=={LLAMA_CPP_PYTHON_VERSION} (converter and runtime must match)",
        )
    where = converter_dir or default_converter_dir()
    stamp = _read_stamp(where)
    if stamp is None:
        raise DndtuneError("llama.cpp's HF -> GGUF converter is not installed", path=str(where), fix=SETUP_FIX)
    if stamp.get("llama_cpp_python") != LLAMA_CPP_PYTHON_VERSION:
        raise DndtuneError(
            f"the converter comes from {_PACKAGE} {stamp.get('llama_cpp_python')}, "
            f"not {LLAMA_CPP_PYTHON_VERSION}", path=str(where), fix=SETUP_FIX)
    return Toolchain(converter_dir=where, llama_cpp_python=bindings,
                     llama_cpp_commit=str(stamp.get("llama_cpp_commit", "unknown")))


def ensure_converter(converter_dir: Path | None = None, *, python: str | None = None) -> Path:
    """Install the converter from the pinned sdist unless it is already there; returns its folder."""
    where = converter_dir or default_converter_dir()
    stamp = _read_stamp(where)
    if stamp is not None and stamp.get("llama_cpp_python") == LLAMA_CPP_PYTHON_VERSION:
        return where
    with tempfile.TemporaryDirectory(prefix="dndtune-sdist-") as tmp:
        sdist = download_sdist(Path(tmp), python=python)
        extract_converter(sdist, where)
    return where


def download_sdist(dest: Path, *, python: str | None = None) -> Path:
    """``pip download`` the pinned sdist into ``dest`` (pip's own index settings and cache apply)."""
    cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "--quiet", f"{_PACKAGE}=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise DndtuneError(f"could not download the {_PACKAGE} {LLAMA_CPP_PYTHON_VERSION} sdist: {tail}",
                           fix="check access to the package registry and rerun setup")
    found = sorted(dest.glob(f"{_SDIST_ROOT}.tar.gz"))
    if not found:
        raise DndtuneError(f"pip did not produce {_SDIST_ROOT}.tar.gz", path=str(dest), fix="rerun setup")
    return found[0]


def extract_converter(sdist: Path, target: Path) -> Path:
    """Extract the converter files of ``sdist`` into ``target`` atomically and stamp them."""
    commit = "unknown"
    with atomic_path(target, is_dir=True) as tmp, tarfile.open(sdist, "r:gz") as tar:
        count = 0
        for member in tar:
            if member.name == _COMMIT_FILE and member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    commit = handle.read().decode("ascii", "replace").strip()
                continue
            rel = _converter_member(member)
            if rel is None:
                continue
            member.name = rel
            tar.extract(member, tmp, filter="data")
            count += 1
        if not (tmp / "convert_hf_to_gguf.py").is_file() or not (tmp / "conversion").is_dir():
            raise DndtuneError("the sdist holds no convert_hf_to_gguf.py / conversion package",
                               path=str(sdist), fix=f"check that {_PACKAGE}=={LLAMA_CPP_PYTHON_VERSION} is intact")
        stamp = {"llama_cpp_python": LLAMA_CPP_PYTHON_VERSION, "llama_cpp_commit": commit,
                 "sdist_sha256": sha256_file(sdist), "files": count}
        (tmp / _STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return target


def _converter_member(member: tarfile.TarInfo) -> str | None:
    if not member.isfile() or not member.name.startswith(_VENDOR):
        return None
    rel = member.name[len(_VENDOR):]
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or "__pycache__" in path.parts:
        return None
    if rel in _KEEP or any(rel.startswith(prefix) for prefix in _KEEP if prefix.endswith("/")):
        return rel
    return None


def _read_stamp(where: Path) -> dict[str, object] | None:
    try:
        data = json.loads((where / _STAMP).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not (where / "convert_hf_to_gguf.py").is_file():
        return None
    return data


def converter_env(toolchain: Toolchain) -> dict[str, str]:
    """Environment for a converter subprocess: the pinned ``gguf-py`` first, so it matches ``conversion/``."""
    env = dict(os.environ)
    paths = [str(toolchain.converter_dir / "gguf-py"), str(toolchain.converter_dir)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def remove_converter(converter_dir: Path | None = None) -> None:
    shutil.rmtree(converter_dir or default_converter_dir(), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m dndtune.export.toolchain [--dir DIR]``: install the converter (setup calls this)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dndtune.export.toolchain",
                                     description="Install llama.cpp's HF -> GGUF converter from the pinned sdist.")
    parser.add_argument("--dir", type=Path, default=None, help="install here instead of the dndtune cache")
    args = parser.parse_args(argv)
    try:
        where = ensure_converter(args.dir)
    except DndtuneError as exc:
        print(f"dndtune: error: {exc}", file=sys.stderr)
        return 1
    print(f"llama.cpp converter ({_PACKAGE} {LLAMA_CPP_PYTHON_VERSION}) ready in {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
