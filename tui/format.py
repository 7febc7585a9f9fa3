"""Short human forms of figures, shared by the screens."""

from __future__ import annotations

from dndtune.units import format_size


def size(n_bytes: int | None) -> str:
    return "—" if n_bytes is None else format_size(n_bytes)


def duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def number(value: float | None, spec: str = ".3g") -> str:
    return "—" if value is None else format(value, spec)
