"""Atomic file writes: a crash or a full disk never leaves a half-written output behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from dndtune.errors import DndtuneError

_FIX = "check free disk space and that the folder is writable"


@contextmanager
def atomic_path(target: Path, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; on success it replaces ``target`` in one rename.

    The temp lives in the same directory so the final ``os.replace`` never crosses filesystems.
    On any exception the temp is removed and ``target`` is left exactly as it was. A folder that
    cannot be created or written (read-only, full, a file in the way) is one ``DndtuneError``.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _make_temp(target, is_dir=is_dir)
    except OSError as exc:
        raise DndtuneError(f"could not write output: {exc.strerror or exc}", path=str(target), fix=_FIX) from None
    try:
        yield tmp
        _publish_mode(tmp, is_dir=is_dir)
        if is_dir and target.exists():
            # Swap via a backup so an existing good output survives a failed replace.
            backup = target.with_name(f".{target.name}.old")
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(target, backup)
            os.replace(tmp, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise DndtuneError(f"could not write output: {exc.strerror or exc}", path=str(target), fix=_FIX) from exc
    except BaseException:
        _remove(tmp)
        raise


def _make_temp(target: Path, *, is_dir: bool) -> Path:
    prefix = f".{target.name}."
    if is_dir:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


@lru_cache(maxsize=1)
def _umask() -> int:
    # Linux shows the umask in /proc; elsewhere os.umask can only be read by setting it, which is not
    # thread-safe, so that is done once per process.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish_mode(tmp: Path, *, is_dir: bool) -> None:
    """Temp files are created private (0600 / 0700); the published output gets the usual umask mode."""
    if tmp.is_symlink() or not tmp.exists():
        return
    tmp.chmod((0o777 if is_dir else 0o666) & ~_umask())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def link_tree(source: Path, target: Path) -> None:
    """``target`` becomes a copy of the folder ``source`` whose files are hard links where the disk allows.

    A new run version reuses an earlier version's adapter or merged weights this way: no bytes are
    copied, and since every writer replaces files by rename (never in place), neither version can
    change the other's files.
    """

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    with atomic_path(target, is_dir=True) as tmp:
        shutil.copytree(source, tmp, copy_function=link_or_copy, dirs_exist_ok=True)
