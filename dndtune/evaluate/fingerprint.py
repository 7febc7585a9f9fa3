"""File fingerprints: which exact model file a score, a rating or a deployment belongs to."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dndtune.hashing import sha256_file


def sha256_tree(folder: Path) -> str:
    """One digest over every file of a folder (relative names and contents, in sorted order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(path).encode("ascii"))
    return digest.hexdigest()
