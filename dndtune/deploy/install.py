"""Copy a built bundle into an app's assets folder in one rename.

The bundle is copied next to its destination first (same filesystem), then swapped in with
:func:`dndtune.atomic.atomic_path`: an app build that reads the folder mid-deploy sees either
the old bundle or the new one, never a half-copied GGUF. A bundle already there is replaced.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dndtune.atomic import atomic_path
from dndtune.errors import DndtuneError


def install_bundle(bundle: Path, assets: Path, name: str) -> Path:
    """Copy the folder ``bundle`` to ``assets/name`` atomically; returns the installed folder."""
    if not bundle.is_dir():
        raise DndtuneError("bundle folder not found", path=str(bundle), fix="build the bundle first")
    if assets.exists() and not assets.is_dir():
        raise DndtuneError("--to must be a folder (the app's assets folder)", path=str(assets),
                           fix="pass the folder the app loads models from, e.g. android/app/src/main/assets")
    target = assets / name
    with atomic_path(target, is_dir=True) as tmp:
        for item in sorted(bundle.iterdir()):
            if item.is_dir():
                shutil.copytree(item, tmp / item.name)
            else:
                shutil.copy2(item, tmp / item.name)
        tmp.chmod(0o755)
    return target
