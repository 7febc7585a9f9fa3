"""Install a bundle into an app's assets folder without ever deleting what dndtune did not write.

``--to`` is the app's own folder, full of files dndtune knows nothing about, so every step here is
confined and reversible:

- The bundle name is one safe path component (:func:`check_name`): ``.``, ``..``, separators and
  absolute paths would otherwise make ``assets / name`` the assets folder itself, a folder
  elsewhere on the disk, or one outside ``--to``.
- The bundle is built in a new hidden folder next to its destination (same filesystem) and renamed
  in: an app build that reads the folder mid-deploy sees the old bundle or the new one, never a
  half-copied GGUF.
- A folder already at the destination is replaced only when it is a dndtune bundle (it holds
  ``dndtune-model.json``); it is renamed to ``.<name>.previous`` (a backup, not deleted). Only the
  backup before that, itself a dndtune bundle, is removed. The backup is a dot-folder because
  Android's default asset ignore pattern skips those: it stays on disk without shipping in the app.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dndtune.deploy.manifest import BUNDLE_MANIFEST
from dndtune.errors import DndtuneError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""One path component: starts with a letter or digit (so never ``.``, ``..`` or a hidden name)."""
BACKUP_SUFFIX = ".previous"
_NAME_FIX = (f"use 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit and not ending in "
             f"{BACKUP_SUFFIX}, e.g. --name dm-model")


def backup_path(assets: Path, name: str) -> Path:
    """Where the bundle a deploy replaces is kept: ``<assets>/.<name>.previous``."""
    return assets / f".{name}{BACKUP_SUFFIX}"


def check_name(name: str, what: str = "--name") -> str:
    """``name`` when it is one safe folder name inside the assets folder; a one-line error otherwise."""
    if not NAME_PATTERN.fullmatch(name) or name.endswith(BACKUP_SUFFIX):
        raise DndtuneError(f"{what} {name!r} is not a plain folder name", fix=_NAME_FIX)
    return name


def is_bundle(folder: Path) -> bool:
    return folder.is_dir() and (folder / BUNDLE_MANIFEST).is_file()


def check_target(assets: Path, name: str) -> Path:
    """``assets/name`` after checking a deploy may write it; raises before any work is done."""
    check_name(name)
    if assets.exists() and not assets.is_dir():
        raise DndtuneError("--to must be a folder (the app's assets folder)", path=str(assets),
                           fix="pass the folder the app loads models from, e.g. android/app/src/main/assets")
    target = assets / name
    # The backup is only touched when a bundle is there to become the new backup.
    replaced = (target, backup_path(assets, name)) if os.path.lexists(target) else ()
    for path in replaced:
        if os.path.lexists(path) and not is_bundle(path):
            raise DndtuneError("this folder exists and is not a dndtune bundle (no dndtune-model.json); "
                               "nothing was changed", path=str(path),
                               fix="pick another --name, or move that folder away")
    return target


@contextmanager
def staged_bundle(assets: Path, name: str) -> Iterator[Path]:
    """Yield a new empty folder beside ``assets/name``; on success it becomes ``assets/name``.

    On any error the staged folder (which this deploy created) is removed and the assets folder is
    left as it was.
    """
    target = check_target(assets, name)
    try:
        assets.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=assets))
    except OSError as exc:
        raise DndtuneError(f"cannot write into the assets folder: {exc.strerror or exc}", path=str(assets),
                           fix="check the folder's permissions and free space") from None
    try:
        yield staged
        staged.chmod(0o755)
        _swap_in(staged, target)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise DndtuneError(f"could not install the bundle: {exc.strerror or exc}; nothing was replaced",
                           path=str(target), fix="check free disk space and permissions, then deploy again") from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _swap_in(staged: Path, target: Path) -> None:
    """Rename ``staged`` to ``target``; an existing bundle there becomes the backup."""
    check_target(target.parent, target.name)  # again: the folder may have changed during a long deploy
    if not os.path.lexists(target):
        os.rename(staged, target)
        return
    backup = backup_path(target.parent, target.name)
    # The backup before last is moved aside first and removed only once the new bundle is in.
    discard = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.discard"
    if os.path.lexists(backup):
        os.rename(backup, discard)
    os.rename(target, backup)
    try:
        os.rename(staged, target)
    except OSError:
        os.rename(backup, target)  # put the installed bundle back where the app expects it
        if os.path.lexists(discard):
            os.rename(discard, backup)
        raise
    shutil.rmtree(discard, ignore_errors=True)


def install_bundle(bundle: Path, assets: Path, name: str) -> Path:
    """Copy the folder ``bundle`` to ``assets/name`` (see the module docstring); returns the installed folder."""
    if not bundle.is_dir():
        raise DndtuneError("bundle folder not found", path=str(bundle), fix="build the bundle first")
    with staged_bundle(assets, name) as staged:
        for item in sorted(bundle.iterdir()):
            if item.is_dir():
                shutil.copytree(item, staged / item.name)
            else:
                shutil.copy2(item, staged / item.name)
    return assets / name
