"""Sizes in bytes as people write them (``2GB``, ``1.5 GiB``) and as reports show them.

Decimal units are powers of 1000 and binary units powers of 1024, as on the labels of app stores
and phones: a "2 GB" limit means 2e9 bytes.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
SIZE_HINT = "a size such as 2GB, 1.5 GiB or a number of bytes"


def parse_size(value: object) -> int:
    """``"2GB"`` -> 2_000_000_000, ``"1.5 GiB"`` -> 1_610_612_736, ints pass through (bytes).

    Raises ``ValueError`` naming :data:`SIZE_HINT` for anything else (``True`` included).
    """
    if isinstance(value, bool):
        raise ValueError(f"must be {SIZE_HINT}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match and match.group(2).lower() in _UNITS:
            return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    raise ValueError(f"must be {SIZE_HINT} (got {value!r})")


def format_size(n_bytes: int) -> str:
    """Human form used in plans and reports (decimal units, matching :func:`parse_size`)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes} B"
